// swift-tools-version:6.0
import PackageDescription

/// Vector kernels need AVX2/FMA; a plain release build emits SSE only (see shared STYLE notes).
let vectorFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux])),
]

let package = Package(
    name: "swift-lora",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lora", targets: ["lora"]),
        // The readers and models as a library, for the fuzzing harnesses in Fuzz/.
        .library(name: "SwiftLoRACore", targets: ["InputValidation", "JSONText", "SafeTensors", "Tokenizers", "GLUE", "DataFiles", "Encoders"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "InputValidation"),
        .target(name: "Int8Kernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "MPIShim", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "OneDNNShim", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Collectives", dependencies: ["MPIShim"]),
        .target(name: "Tensors", dependencies: ["CBLAS", "Int8Kernels", "OneDNNShim"], swiftSettings: vectorFlags),
        .target(name: "SafeTensors", dependencies: ["InputValidation"]),
        .target(name: "JSONText"),
        .target(name: "Tokenizers", dependencies: ["JSONText"]),
        .target(name: "GLUE", dependencies: ["InputValidation"]),
        .target(name: "DataFiles", dependencies: ["GLUE", "JSONText", "InputValidation"]),
        .target(name: "Profiling"),
        .target(name: "Study", dependencies: ["Profiling"]),
        .target(name: "Encoders", dependencies: ["Tensors", "SafeTensors", "InputValidation", "JSONText"], swiftSettings: vectorFlags),
        .target(name: "Training", dependencies: ["Collectives", "Tensors", "SafeTensors", "Encoders", "GLUE", "Tokenizers", "InputValidation", "DataFiles"], swiftSettings: vectorFlags),
        .target(name: "Serving", dependencies: ["Encoders", "Tensors", "SafeTensors", "Tokenizers", "InputValidation", "JSONText",
                                               .product(name: "Metrics", package: "swift-metrics")]),
        .target(
            name: "Server",
            dependencies: [
                "Serving", "Encoders", "JSONText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.embedInCode("openapi.json")]
        ),
        .executableTarget(
            name: "lora",
            dependencies: [
                "Tensors", "SafeTensors", "Tokenizers", "GLUE", "DataFiles", "Encoders", "Training", "Profiling", "Study", "InputValidation",
                "Serving", "Server", "Collectives",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: vectorFlags
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "JSONText", "TestSupport"]),
        .testTarget(name: "DataFilesTests", dependencies: ["DataFiles", "GLUE", "TestSupport"]),
        .testTarget(name: "GLUETests", dependencies: ["GLUE", "TestSupport"]),
        .testTarget(name: "EncodersTests", dependencies: ["Encoders", "Tensors", "SafeTensors", "TestSupport", "InputValidation"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Collectives", "Encoders", "GLUE", "Tensors", "SafeTensors", "TestSupport"]),
        .testTarget(name: "ProfilingTests", dependencies: ["Profiling"]),
        .testTarget(name: "StudyTests", dependencies: ["Study", "Profiling"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "Encoders", "Tensors", "Tokenizers", "SafeTensors", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Study", "SafeTensors"]),
    ],
    swiftLanguageModes: [.v6]
)
