// swift-tools-version:5.9
// libFuzzer harnesses for swift-lora's input readers, built apart from the main package so
// that only these targets get -sanitize=fuzzer,address. Build and run with scripts/fuzz.sh.
import PackageDescription

let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "swift-lora-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "swift-lora", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["FuzzSupport", .product(name: "SwiftLoRACore", package: "swift-lora")],
                          path: "Sources/FuzzSafeTensors", swiftSettings: harness),
        .executableTarget(name: "FuzzModelConfig", dependencies: ["FuzzSupport", .product(name: "SwiftLoRACore", package: "swift-lora")],
                          path: "Sources/FuzzModelConfig", swiftSettings: harness),
        .executableTarget(name: "FuzzAdapterConfig", dependencies: ["FuzzSupport", .product(name: "SwiftLoRACore", package: "swift-lora")],
                          path: "Sources/FuzzAdapterConfig", swiftSettings: harness),
        .executableTarget(name: "FuzzTokenizerFiles", dependencies: ["FuzzSupport", .product(name: "SwiftLoRACore", package: "swift-lora")],
                          path: "Sources/FuzzTokenizerFiles", swiftSettings: harness),
        .executableTarget(name: "FuzzDataFiles", dependencies: ["FuzzSupport", .product(name: "SwiftLoRACore", package: "swift-lora")],
                          path: "Sources/FuzzDataFiles", swiftSettings: harness),
        .executableTarget(name: "FuzzGLUEData", dependencies: [.product(name: "SwiftLoRACore", package: "swift-lora")],
                          path: "Sources/FuzzGLUEData", swiftSettings: harness),
    ]
)
