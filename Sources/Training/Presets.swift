import Encoders

/// The paper's hyper-parameters (its Table 7) for RoBERTa-base on five GLUE tasks.
///
/// Full fine-tuning: batch 16/16/32/32/16, epochs 5/5/10/10/10, lr 2e-5/3e-5/3e-5/3e-5/3e-5,
/// weight decay 0.01. LoRA: batch 16/16/32/32/16, epochs 60/30/80/80/40,
/// lr 5e-4/4e-4/4e-4/5e-4/4e-4, r = 8, α = 8 on query and value. Both: warm-up ratio 0.06,
/// maximum length 512 (for SST-2, MRPC, CoLA, RTE, STS-B in that order).
public enum PaperPresets {
    /// One row of Table 7.
    public struct Preset: Sendable, Equatable {
        public var batchSize: Int
        public var epochs: Int
        public var learningRate: Float
        public var weightDecay: Double
        public var warmupRatio: Double
        public var maxLength: Int

        /// Creates a preset row.
        public init(batchSize: Int, epochs: Int, learningRate: Float, weightDecay: Double, warmupRatio: Double, maxLength: Int) {
            self.batchSize = batchSize
            self.epochs = epochs
            self.learningRate = learningRate
            self.weightDecay = weightDecay
            self.warmupRatio = warmupRatio
            self.maxLength = maxLength
        }
    }

    /// Task names in the paper's order.
    public static let tasks = ["SST-2", "MRPC", "CoLA", "RTE", "STS-B"]

    /// The preset for `task` (a GLUE task name as registered) and `method`, or nil for a
    /// task the paper did not run.
    public static func preset(task: String, method: FineTuningMethod) -> Preset? {
        guard let i = tasks.firstIndex(of: task) else { return nil }
        switch method {
        case .full:
            return Preset(batchSize: [16, 16, 32, 32, 16][i], epochs: [5, 5, 10, 10, 10][i],
                          learningRate: [2e-5, 3e-5, 3e-5, 3e-5, 3e-5][i], weightDecay: 0.01, warmupRatio: 0.06, maxLength: 512)
        case .lora:
            return Preset(batchSize: [16, 16, 32, 32, 16][i], epochs: [60, 30, 80, 80, 40][i],
                          learningRate: [5e-4, 4e-4, 4e-4, 5e-4, 4e-4][i], weightDecay: 0.01, warmupRatio: 0.06, maxLength: 512)
        }
    }

    /// Applies a preset to options (LoRA: r = 8, α = 8, query and value).
    public static func apply(_ p: Preset, to options: inout TrainingOptions) {
        options.batchSize = p.batchSize
        options.epochs = p.epochs
        options.learningRate = p.learningRate
        options.weightDecay = p.weightDecay
        options.warmupRatio = p.warmupRatio
        if options.method == .lora { options.lora = LoRAConfig(rank: 8, alpha: 8, targets: [.query, .value]) }
    }
}
