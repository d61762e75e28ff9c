#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// NVIDIA's management library, loaded at run time with `dlopen` so that the package neither
/// links against nor requires it. Reports board power in milliwatts per GPU.
///
/// Owned by one sampler and used only from its thread; `nvmlShutdown` runs on deinit.
final class NVMLMeter {
    private typealias InitFn = @convention(c) () -> Int32
    private typealias GetCountFn = @convention(c) (UnsafeMutablePointer<UInt32>) -> Int32
    private typealias GetHandleFn = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>) -> Int32
    private typealias GetPowerFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt32>) -> Int32
    private typealias ShutdownFn = @convention(c) () -> Int32

    /// The library's soname.
    static let libraryName = "libnvidia-ml.so.1"

    private let library: UnsafeMutableRawPointer
    private let getPower: GetPowerFn
    private let shutdown: ShutdownFn
    private let devices: [OpaquePointer?]

    /// Number of GPUs whose power is summed.
    var deviceCount: Int { devices.count }

    /// Loads the library, initialises it and takes a handle to every device.
    static func open() -> Result<NVMLMeter, NotMeasured> {
        guard let library = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(NotMeasured("\(libraryName) not found (no NVIDIA driver)"))
        }
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            guard let pointer = dlsym(library, name) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard let initFn = symbol("nvmlInit_v2", InitFn.self),
              let getCount = symbol("nvmlDeviceGetCount_v2", GetCountFn.self),
              let getHandle = symbol("nvmlDeviceGetHandleByIndex_v2", GetHandleFn.self),
              let getPower = symbol("nvmlDeviceGetPowerUsage", GetPowerFn.self),
              let shutdown = symbol("nvmlShutdown", ShutdownFn.self) else {
            dlclose(library)
            return .failure(NotMeasured("\(libraryName) lacks the expected NVML symbols"))
        }
        let status = initFn()
        guard status == 0 else {
            dlclose(library)
            return .failure(NotMeasured("nvmlInit_v2 failed with NVML error \(status)"))
        }
        var count: UInt32 = 0
        var devices: [OpaquePointer?] = []
        if getCount(&count) == 0 {
            for index in 0 ..< count {
                var handle: OpaquePointer?
                if getHandle(index, &handle) == 0, handle != nil {
                    var milliwatts: UInt32 = 0
                    // Keep only devices that can report power.
                    if getPower(handle, &milliwatts) == 0 { devices.append(handle) }
                }
            }
        }
        guard !devices.isEmpty else {
            _ = shutdown()
            dlclose(library)
            return .failure(NotMeasured("NVML found no GPU that reports power (\(count) devices)"))
        }
        return .success(NVMLMeter(library: library, getPower: getPower, shutdown: shutdown, devices: devices))
    }

    private init(library: UnsafeMutableRawPointer, getPower: GetPowerFn, shutdown: ShutdownFn,
                 devices: [OpaquePointer?]) {
        self.library = library
        self.getPower = getPower
        self.shutdown = shutdown
        self.devices = devices
    }

    deinit {
        _ = shutdown()
        dlclose(library)
    }

    /// Summed instantaneous power of all devices, in watts; `nil` if any read fails.
    func watts() -> Double? {
        var total = 0.0
        for handle in devices {
            var milliwatts: UInt32 = 0
            guard getPower(handle, &milliwatts) == 0 else { return nil }
            total += Double(milliwatts) / 1000
        }
        return total
    }
}
