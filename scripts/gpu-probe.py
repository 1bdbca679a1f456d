"""What a CUDA program sees: the driver API through ctypes (no toolkit needed)."""
import ctypes, os, sys, time

print("pid", os.getpid(), "uid", os.getuid(), "CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)"))
print("/dev nodes:", " ".join(sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))) or "none")
try:
    cuda = ctypes.CDLL("libcuda.so.1")
except OSError as e:
    print("libcuda:", e); sys.exit(2)
rc = cuda.cuInit(0)
count = ctypes.c_int(0)
if rc == 0:
    rc = cuda.cuDeviceGetCount(ctypes.byref(count))
print("cuInit/cuDeviceGetCount:", rc, "devices:", count.value)
for i in range(count.value):
    dev = ctypes.c_int(0)
    cuda.cuDeviceGet(ctypes.byref(dev), i)
    name = ctypes.create_string_buffer(128)
    cuda.cuDeviceGetName(name, 128, dev)
    uuid = ctypes.create_string_buffer(16)
    cuda.cuDeviceGetUuid(uuid, dev)
    u = uuid.raw.hex()
    print(f"  device {i}: {name.value.decode()} GPU-{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}")
    ctx = ctypes.c_void_p()
    rc = cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev)
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    if rc == 0:
        cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total))
    print(f"    context: {rc}, memory total {total.value >> 20} MiB")
sys.stdout.flush()
if len(sys.argv) > 1:
    time.sleep(float(sys.argv[1]))
