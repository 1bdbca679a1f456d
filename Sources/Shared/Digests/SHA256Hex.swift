import Crypto

/// The lowercase hex SHA-256 of `bytes`, by swift-crypto: the digests of policies, argv summaries, the
/// audit chain and the daemon's instance name, and the scientist's file, paper and request digests. The
/// glovebox client does not link it (its start is measured; TrustZoneTests).
public func sha256Hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(64)
    for byte in SHA256.hash(data: bytes) {
        hex.append(digits[Int(byte >> 4)])
        hex.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: hex, as: UTF8.self)
}
