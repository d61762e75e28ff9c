import Foundation

// The nine GLUE tasks in the layout the GLUE download script writes (`glue_data/`).
// Text and label columns follow the reference processors of BERT's run_classifier.py and
// transformers' glue.py; label order follows those processors too (class i = labelTokens[i]).

extension GLUETask {
    /// Labels `0`/`1`, as in CoLA, SST-2, MRPC, QQP and WNLI.
    private static func binary(_ negative: String, _ positive: String) -> TaskKind {
        .classification(labelTokens: ["0", "1"], labelNames: [negative, positive])
    }

    private static let entailmentKind = TaskKind.classification(
        labelTokens: ["entailment", "not_entailment"], labelNames: ["entailment", "not_entailment"])

    /// Both splits stored with one layout.
    private static func sameLayout(_ layout: TSVLayout, train: String = "train.tsv",
                                   dev: String = "dev.tsv") -> [Split: SplitFile] {
        [.train: SplitFile(fileName: train, layout: layout), .dev: SplitFile(fileName: dev, layout: layout)]
    }

    /// CoLA: grammatical acceptability; no header; label `1` = acceptable. Metric: Matthews corr.
    public static let cola = GLUETask(
        name: "CoLA", directoryName: "CoLA",
        kind: binary("unacceptable", "acceptable"),
        splits: sameLayout(TSVLayout(
            columns: ["source", "label", "original_judgment_mark", "sentence"], hasHeader: false,
            textA: "sentence", textB: nil, label: "label")),
        metrics: [.matthews], primaryMetric: .matthews)

    /// SST-2: sentiment; label `1` = positive. Metric: accuracy.
    public static let sst2 = GLUETask(
        name: "SST-2", directoryName: "SST-2",
        kind: binary("negative", "positive"),
        splits: sameLayout(TSVLayout(columns: ["sentence", "label"], textA: "sentence", textB: nil, label: "label")),
        metrics: [.accuracy], primaryMetric: .accuracy)

    /// MRPC: paraphrase; label `1` = paraphrase. Metrics: accuracy (primary, as in the paper) and F1.
    public static let mrpc = GLUETask(
        name: "MRPC", directoryName: "MRPC",
        kind: binary("not_equivalent", "equivalent"),
        splits: sameLayout(TSVLayout(
            columns: ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
            textA: "#1 String", textB: "#2 String", label: "Quality")),
        metrics: [.accuracy, .f1], primaryMetric: .accuracy)

    /// QQP: duplicate questions; label `1` = duplicate. Metrics: accuracy (primary) and F1.
    public static let qqp = GLUETask(
        name: "QQP", directoryName: "QQP",
        kind: binary("not_duplicate", "duplicate"),
        splits: sameLayout(TSVLayout(
            columns: ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
            textA: "question1", textB: "question2", label: "is_duplicate")),
        metrics: [.accuracy, .f1], primaryMetric: .accuracy)

    /// STS-B: semantic similarity, a score from 0 to 5 (regression, one output).
    /// Metrics: Pearson (primary) and Spearman.
    public static let stsb = GLUETask(
        name: "STS-B", aliases: ["sts"], directoryName: "STS-B",
        kind: .regression(range: 0...5),
        splits: sameLayout(TSVLayout(
            columns: ["index", "genre", "filename", "year", "old_index", "source1", "source2",
                      "sentence1", "sentence2", "score"],
            textA: "sentence1", textB: "sentence2", label: "score")),
        metrics: [.pearson, .spearman], primaryMetric: .pearson)

    /// MNLI columns shared by train (one annotator label) and dev (five).
    private static let mnliLeadingColumns = [
        "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
        "sentence1_parse", "sentence2_parse", "sentence1", "sentence2",
    ]
    private static let mnliTrain = SplitFile(fileName: "train.tsv", layout: TSVLayout(
        columns: mnliLeadingColumns + ["label1", "gold_label"],
        textA: "sentence1", textB: "sentence2", label: "gold_label"))
    private static func mnliDev(_ fileName: String) -> SplitFile {
        SplitFile(fileName: fileName, layout: TSVLayout(
            columns: mnliLeadingColumns + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
            textA: "sentence1", textB: "sentence2", label: "gold_label"))
    }
    private static let mnliKind = TaskKind.classification(
        labelTokens: ["contradiction", "entailment", "neutral"],
        labelNames: ["contradiction", "entailment", "neutral"])

    /// MNLI evaluated on the matched dev set (`dev_matched.tsv`). Metric: accuracy.
    public static let mnli = GLUETask(
        name: "MNLI", aliases: ["mnli-m", "mnli-matched", "mnli_matched"], directoryName: "MNLI",
        kind: mnliKind,
        splits: [.train: mnliTrain, .dev: mnliDev("dev_matched.tsv")],
        metrics: [.accuracy], primaryMetric: .accuracy)

    /// MNLI evaluated on the mismatched dev set (`dev_mismatched.tsv`). Metric: accuracy.
    public static let mnliMismatched = GLUETask(
        name: "MNLI-MM", aliases: ["mnli-mismatched", "mnli_mismatched"], directoryName: "MNLI",
        kind: mnliKind,
        splits: [.train: mnliTrain, .dev: mnliDev("dev_mismatched.tsv")],
        metrics: [.accuracy], primaryMetric: .accuracy)

    /// QNLI: question answering as entailment. Metric: accuracy.
    public static let qnli = GLUETask(
        name: "QNLI", directoryName: "QNLI",
        kind: entailmentKind,
        splits: sameLayout(TSVLayout(
            columns: ["index", "question", "sentence", "label"],
            textA: "question", textB: "sentence", label: "label")),
        metrics: [.accuracy], primaryMetric: .accuracy)

    /// RTE: textual entailment. Metric: accuracy.
    public static let rte = GLUETask(
        name: "RTE", directoryName: "RTE",
        kind: entailmentKind,
        splits: sameLayout(TSVLayout(
            columns: ["index", "sentence1", "sentence2", "label"],
            textA: "sentence1", textB: "sentence2", label: "label")),
        metrics: [.accuracy], primaryMetric: .accuracy)

    /// WNLI: Winograd entailment; label `1` = entailment. Metric: accuracy.
    public static let wnli = GLUETask(
        name: "WNLI", directoryName: "WNLI",
        kind: binary("not_entailment", "entailment"),
        splits: sameLayout(TSVLayout(
            columns: ["index", "sentence1", "sentence2", "label"],
            textA: "sentence1", textB: "sentence2", label: "label")),
        metrics: [.accuracy], primaryMetric: .accuracy)

    /// Every registered task, in GLUE's order (MNLI matched, then mismatched).
    public static let all: [GLUETask] = [cola, sst2, mrpc, qqp, stsb, mnli, mnliMismatched, qnli, rte, wnli]

    /// Canonical names of every registered task, in ``all``'s order.
    public static var knownNames: [String] { all.map(\.name) }

    /// A name reduced for lookup: lowercased, keeping only letters and digits
    /// (`"SST-2"`, `"sst_2"` and `"sst2"` all become `"sst2"`).
    public static func normalizedName(_ name: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in name.lowercased().unicodeScalars
        where (0x61...0x7A).contains(scalar.value) || (0x30...0x39).contains(scalar.value) {
            out.append(scalar)
        }
        return String(out)
    }

    /// Finds a task by name, ignoring case, `-`, `_` and spaces: `"sst2"`, `"SST-2"`,
    /// `"stsb"`, `"STS-B"`, `"mnli"`, `"mnli-mm"`, `"mnli_mismatched"` all resolve.
    /// - Throws: ``GLUEError/unknownTask(name:known:)`` listing ``knownNames``.
    public static func named(_ name: String) throws -> GLUETask {
        let key = normalizedName(name)
        if !key.isEmpty {
            for task in all where ([task.name] + task.aliases).contains(where: { normalizedName($0) == key }) {
                return task
            }
        }
        throw GLUEError.unknownTask(name: name, known: knownNames)
    }
}
