import BPETokenizeStage
import CleanStage
import CompareStage
import CollectStage
import DistillStage
import EvaluateStage
import ExportStage
import FinetuneStage
import MinHashDedupStage
import MonitorStage
import ObjectiveStage
import PrepareExamplesStage
import PromoteStage
import PruneStage
import QuantizeStage
import PipeEngine
import TrainStage

/// The stage kinds compiled into pipe, each from its own module under `stages/`.
public enum BuiltinStages {
    public static let registry = StageRegistry([
        StageDescriptor(builtin: ObjectiveStage.self),
        StageDescriptor(builtin: CollectStage.self),
        StageDescriptor(builtin: CleanStage.self),
        StageDescriptor(builtin: MinHashDedupStage.self),
        StageDescriptor(builtin: BPETokenizeStage.self),
        StageDescriptor(builtin: TrainStage.self),
        StageDescriptor(builtin: PrepareExamplesStage.self),
        StageDescriptor(builtin: FinetuneStage.self),
        StageDescriptor(builtin: EvaluateStage.self),
        StageDescriptor(builtin: MonitorStage.self),
        StageDescriptor(builtin: PruneStage.self),
        StageDescriptor(builtin: DistillStage.self),
        StageDescriptor(builtin: QuantizeStage.self),
        StageDescriptor(builtin: ExportStage.self),
        StageDescriptor(builtin: CompareStage.self),
        StageDescriptor(builtin: PromoteStage.self),
    ])
}
