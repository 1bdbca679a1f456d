import GloveboxProtocol
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry (fuzz/run.sh wire-messages): the bytes as what a client writes to gloveboxd's socket,
/// read by the daemon's FrameReader through a real socket pair, and each frame's payload decoded as every
/// request the daemon takes. Reading ends in frames or a ProtocolError; decoding in a message or an error;
/// nothing traps. (ProtocolFuzzTests sends the same kinds of input to a running daemon.)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWireMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else { return 0 }
    defer { close(pair[0]) }
    // Written whole before reading (a 2 MiB socket buffer holds what libFuzzer sends by default: -max_len).
    var buffer: Int32 = 4 << 20
    setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
    var sent = 0
    while sent < size {
        let n = write(pair[1], data + sent, size - sent)
        if n <= 0 { break }
        sent += n
    }
    close(pair[1])
    let reader = FrameReader(fd: pair[0])
    for _ in 0..<64 {
        guard let frame = try? reader.next() else { break }
        decodeAll(frame)
    }
    // The payload alone, as the JSON of every message.
    decodeAll(Frame(.runRequest, Array(UnsafeBufferPointer(start: data, count: min(size, 1 << 16)))))
    return 0
}

private func decodeAll(_ frame: Frame) {
    _ = try? Wire.decode(RunRequest.self, frame)
    _ = try? Wire.decode(ShowRequest.self, frame)
    _ = try? Wire.decode(PsRequest.self, frame)
    _ = try? Wire.decode(LogsRequest.self, frame)
    _ = try? Wire.decode(RunReference.self, frame)
    _ = try? Wire.decode(AuditRequest.self, frame)
    _ = try? Wire.decode(PolicyRequest.self, frame)
}
