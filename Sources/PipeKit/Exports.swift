// The SDK re-exports what every layer shares (StageError, SplitMix64, AtomicFile), so a stage
// or plugin that imports PipeKit has them.
@_exported import Support
