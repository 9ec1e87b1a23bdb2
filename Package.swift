// swift-tools-version:6.0
// HistoScreen: screen whole-slide histology images for tumour.
//
// Layering: only the edge targets (Imaging, Slides, and the engine's BLAS calls) import
// C modules. Everything above them works on Swift types.
import PackageDescription

// MARK: C libraries (system libraries found through pkg-config, installed from Debian)

let cLibraries: [Target] = [
    .systemLibrary(name: "COpenSlide", pkgConfig: "openslide", providers: [.apt(["libopenslide-dev"]), .brew(["openslide"])]),
    .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"]), .brew(["libtiff"])]),
    .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
    .systemLibrary(name: "CJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"]), .brew(["jpeg-turbo"])]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    // Only what Swift cannot call: libtiff's variadic TIFFGetField/TIFFSetField and its
    // va_list error handlers.
    .target(name: "CShims", dependencies: ["CTIFF"]),
    // The engine's float32 kernels: written once, compiled per instruction set (AVX-512, AVX2 +
    // FMA, NEON, portable C), one table chosen at run time. -O3 in every build configuration, so
    // that debug test runs are not dominated by unoptimised kernels.
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
    // Area resampling's inner loops (portable C with an SSE2/AVX2 path; see its header for why not Swift).
    .target(name: "CImaging", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
]

// MARK: Libraries

let libraries: [Target] = [
    // RGB images, PNG, JPEG and TIFF codecs, area resampling.
    .target(name: "Imaging", dependencies: ["CPNG", "CJPEG", "CTIFF", "CShims", "CImaging"]),
    // The Slide protocol, OpenSlide-backed slides, plain images as slides, and a
    // pyramidal TIFF writer for test slides.
    .target(name: "Slides", dependencies: ["Imaging", "COpenSlide", "CTIFF", "CShims"]),
    // Tensors, layers (forward + backward), losses, optimizers, model specs and bundles. BLAS is
    // OpenBLAS on Linux and Accelerate on macOS.
    .target(
        name: "Neural",
        dependencies: [.target(name: "COpenBLAS", condition: .when(platforms: [.linux])), "CKernels"],
        linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]
    ),
    // Patch datasets, splits, augmentation, the trainer, metrics and plots.
    .target(name: "Training", dependencies: ["Neural", "Imaging"]),
    // Tissue detection, tiling at the model's resolution, streaming inference, heatmaps,
    // regions, GeoJSON, summaries and reports.
    .target(name: "Screening", dependencies: ["Slides", "Neural", "Training", "Imaging"]),
]

// MARK: Tool

let tool: [Target] = [
    .executableTarget(
        name: "histoscreen",
        dependencies: [
            "Slides", "Imaging", "Neural", "Training", "Screening",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]
    ),
]

// MARK: Tests

let tests: [Target] = [
    .target(name: "_TestSupport", dependencies: ["Slides", "Imaging", "Neural", "Training", "Screening"], path: "Sources/_TestSupport"),
    .testTarget(name: "ImagingTests", dependencies: ["Imaging", "_TestSupport"]),
    .testTarget(name: "SlidesTests", dependencies: ["Slides", "Imaging", "_TestSupport"]),
    .testTarget(name: "NeuralTests", dependencies: ["Neural", "_TestSupport"]),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "Neural", "Imaging", "_TestSupport"]),
    .testTarget(name: "ScreeningTests", dependencies: ["Screening", "Slides", "Neural", "Imaging", "_TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["histoscreen", "Slides", "Screening", "Imaging", "Neural", "_TestSupport"]),
]

// MARK: Fuzz targets (libFuzzer), built only by Scripts/fuzz.sh, which sets HISTOSCREEN_FUZZ: each is
// a shared library with coverage instrumentation that defines LLVMFuzzerTestOneInput, linked
// against libFuzzer's main by the script.

let fuzzNames = ["FuzzSafetensors", "FuzzModelJSON", "FuzzDatasetCSV", "FuzzSlide", "FuzzAnnotations", "FuzzONNX"]
let fuzzTargets: [Target] = fuzzNames.map { name in
    .target(name: name, dependencies: ["Neural", "Training", "Slides", "Imaging", "Screening"], path: "Fuzz/\(name)")
}
let fuzzing = Context.environment["HISTOSCREEN_FUZZ"] != nil

let package = Package(
    name: "HistoScreen",
    platforms: [.macOS(.v13)],
    products: (fuzzing ? fuzzNames.map { .library(name: $0, type: .dynamic, targets: [$0]) } : []) + [
        .executable(name: "histoscreen", targets: ["histoscreen"]),
        .library(name: "Slides", targets: ["Slides"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Neural", targets: ["Neural"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Screening", targets: ["Screening"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: cLibraries + libraries + tool + tests + (fuzzing ? fuzzTargets : []),
    swiftLanguageModes: [.v6]
)
