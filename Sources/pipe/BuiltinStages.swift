import PipeEngine

/// The stage kinds compiled into pipe, each from its own module under `stages/`.
enum BuiltinStages {
    static let registry = StageRegistry([])
}
