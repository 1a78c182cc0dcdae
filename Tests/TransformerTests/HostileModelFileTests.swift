import Foundation
import PipeKit
import Transformer
import XCTest

/// Little-endian bytes of a crafted GGUF or safetensors file.
struct CraftedBytes {
    var data = Data()

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); data.append(contentsOf: Array(s.utf8)) }

    /// A GGUF v3 header claiming `tensors` tensors and `keys` metadata keys.
    static func gguf(tensors: UInt64, keys: UInt64) -> CraftedBytes {
        var b = CraftedBytes(data: Data("GGUF".utf8))
        b.u32(3)
        b.u64(tensors)
        b.u64(keys)
        return b
    }

    /// One tensor description: name, dimensions, type and offset.
    mutating func tensor(_ name: String, _ dimensions: [UInt64], type: UInt32 = 0, offset: UInt64 = 0) {
        string(name)
        u32(UInt32(dimensions.count))
        dimensions.forEach { u64($0) }
        u32(type)
        u64(offset)
    }

    /// Pads to the next multiple of `alignment`, then appends `bytes` zero bytes.
    mutating func dataSection(_ bytes: Int, alignment: Int = 32) {
        data.append(Data(count: (alignment - data.count % alignment) % alignment + bytes))
    }
}

/// Crafted GGUF, safetensors and config.json files: each is refused with an error naming the
/// file and the field, before anything is allocated from the numbers it claims.
final class HostileModelFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func assertRefused<T>(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\(error)", file: file, line: line)
        }
    }

    func readGGUF(_ bytes: CraftedBytes) throws -> GGUF.File {
        let url = folder.appendingPathComponent("model.gguf")
        try bytes.data.write(to: url)
        return try GGUF.read(url)
    }

    // MARK: GGUF

    func testGGUFCountsBeyondTheFile() {
        assertRefused("model.gguf: the tensor count is 9223372036854775807, more than the 8 bytes left") {
            try readGGUF(.gguf(tensors: UInt64(Int64.max), keys: 0))
        }
        assertRefused("the metadata key count is 18446744073709551615") { try readGGUF(.gguf(tensors: 0, keys: .max)) }
    }

    func testGGUFDimensionNearTwoToThe63() {
        var b = CraftedBytes.gguf(tensors: 1, keys: 0)
        b.tensor("blk.0.attn_q.weight", [32, 2, 1, UInt64(Int64.max)])
        b.dataSection(256)
        assertRefused("tensor 'blk.0.attn_q.weight' dimension 3 is 9223372036854775807, more elements than this") { try readGGUF(b) }
    }

    func testGGUFDimensionCountAndProductOverflow() {
        var b = CraftedBytes.gguf(tensors: 1, keys: 0)
        b.tensor("t", [UInt64(UInt32.max)], type: 0)
        b.data.replaceSubrange(b.data.count - 24..<b.data.count - 20, with: [0xFF, 0xFF, 0xFF, 0xFF])  // dimension count 2^32 - 1
        assertRefused("tensor 't' has 4294967295 dimensions; at most 4") { try readGGUF(b) }

        var product = CraftedBytes.gguf(tensors: 1, keys: 0)
        product.tensor("t", [1 << 16, 1 << 16, 1 << 16, 1 << 16])
        product.dataSection(1 << 16)
        assertRefused("tensor 't' of dimensions [65536, 65536, 65536, 65536] has more elements than this") { try readGGUF(product) }
    }

    func testGGUFOffsetsNearTwoToThe63PastTheEndOrOverlapping() {
        var far = CraftedBytes.gguf(tensors: 1, keys: 0)
        far.tensor("t", [8], offset: UInt64(Int64.max) - 3)
        far.dataSection(64)
        assertRefused("tensor 't' has offset 9223372036854775804, past the end") { try readGGUF(far) }

        var past = CraftedBytes.gguf(tensors: 1, keys: 0)
        past.tensor("t", [16], offset: 32)
        past.dataSection(64)
        assertRefused("tensor 't' (64 bytes at offset 32) runs past the end of the file") { try readGGUF(past) }

        var overlap = CraftedBytes.gguf(tensors: 3, keys: 0)
        for name in ["a", "b", "c"] { overlap.tensor(name, [16], offset: 0) }
        overlap.dataSection(64)
        assertRefused("overlaps tensor") { try readGGUF(overlap) }

        var unaligned = CraftedBytes.gguf(tensors: 1, keys: 0)
        unaligned.tensor("t", [1], offset: 4)
        unaligned.dataSection(64)
        assertRefused("tensor 't' has offset 4, not a multiple of the alignment 32") { try readGGUF(unaligned) }
    }

    func testGGUFAlignmentZeroHugeOrNotAPowerOfTwo() {
        for (type, value): (UInt32, UInt64) in [(4, 0), (10, UInt64(Int64.max) + 1), (4, 48)] {
            var b = CraftedBytes.gguf(tensors: 1, keys: 1)
            b.string("general.alignment")
            b.u32(type)
            if type == 4 { b.u32(UInt32(value)) } else { b.u64(value) }
            b.tensor("t", [8])
            b.dataSection(64)
            assertRefused("general.alignment is") { try readGGUF(b) }
        }
    }

    func testGGUFQuantizedRowsMustBeWholeBlocks() {
        var b = CraftedBytes.gguf(tensors: 1, keys: 0)
        b.tensor("t", [33, 1], type: GGMLType.q4_0.rawValue)
        b.dataSection(64)
        assertRefused("tensor 't' has rows of 33 elements, not a multiple of q4_0's block of 32") { try readGGUF(b) }
    }

    func testGGUFDeeplyNestedArrays() {
        var b = CraftedBytes.gguf(tensors: 0, keys: 1)
        b.string("nest")
        b.u32(9)
        for _ in 0..<100_000 { b.u32(9); b.u64(1) }
        assertRefused("metadata nest") { try readGGUF(b) }
        assertRefused("nests arrays deeper than 8 levels") { try readGGUF(b) }
    }

    func testGGUFArrayClaimingTwoToThe40Entries() {
        for element: UInt32 in [0, 5, 8, 9] {
            var b = CraftedBytes.gguf(tensors: 0, keys: 1)
            b.string("tokenizer.ggml.tokens")
            b.u32(9)
            b.u32(element)
            b.u64(1 << 40)
            b.data.append(Data(count: 100))
            assertRefused("the length of array tokenizer.ggml.tokens is 1099511627776, more than the 100 bytes left") { try readGGUF(b) }
        }
    }

    func testGGUFStringLongerThanTheFile() {
        var b = CraftedBytes.gguf(tensors: 0, keys: 1)
        b.u64(1 << 62)
        b.data.append(Data(count: 16))
        assertRefused("the length of a metadata key is 4611686018427387904") { try readGGUF(b) }

        var value = CraftedBytes.gguf(tensors: 0, keys: 1)
        value.string("general.name")
        value.u32(8)
        value.u64(UInt64.max)
        assertRefused("the length of general.name is 18446744073709551615, more than the 0 bytes left") { try readGGUF(value) }
    }

    func testGGUFUnknownTypesAndDuplicates() {
        var unknown = CraftedBytes.gguf(tensors: 0, keys: 1)
        unknown.string("k")
        unknown.u32(99)
        assertRefused("metadata k has unknown type 99") { try readGGUF(unknown) }

        var twice = CraftedBytes.gguf(tensors: 0, keys: 2)
        for _ in 0..<2 { twice.string("k"); twice.u32(4); twice.u32(1) }
        assertRefused("metadata key k appears twice") { try readGGUF(twice) }
    }

    /// A real llama GGUF of a tiny model whose metadata is then replaced.
    func llamaGGUF(_ edit: (inout [(String, GGUF.Value)]) -> Void) throws -> URL {
        let model = TinyModels.model(TinyModels.tied)
        var metadata = LlamaGGUF.metadata(model.config, name: "tiny", fileType: .f32)
        edit(&metadata)
        let url = folder.appendingPathComponent("model.gguf")
        try GGUF.write(metadata: metadata, tensors: LlamaGGUF.tensors(of: model) { _ in .f32 }, to: url)
        return url
    }

    func loadStandalone(_ url: URL) throws -> TransformerModel {
        let file = try GGUF.read(url)
        return try LlamaGGUF.load(file, config: LlamaGGUF.config(of: file, path: url.path), path: url.path)
    }

    func testGGUFModelWithZeroHeadsOrHugeShapesIsRefusedBeforeAllocating() throws {
        let cases: [(String, GGUF.Value, String)] = [
            ("llama.attention.head_count", .uint32(0), "num_attention_heads is 0, outside 1...65536"),
            ("llama.attention.head_count_kv", .uint32(0), "num_key_value_heads is 0"),
            ("llama.attention.head_count", .uint32(3), "hidden_size 16 is not a multiple of num_attention_heads 3"),
            ("llama.context_length", .uint64(1 << 40), "max_position_embeddings is 1099511627776, outside 1...1048576"),
            ("llama.context_length", .uint64(UInt64.max), "metadata llama.context_length is missing or not an integer"),
            ("llama.block_count", .uint32(1 << 31), "num_hidden_layers is 2147483648, outside 1...1024"),
            ("llama.embedding_length", .int32(-16), "hidden_size is -16"),
            ("llama.block_count", .uint32(3), "tensor blk.2.attn_norm.weight is missing"),
            ("llama.feed_forward_length", .uint32(1 << 18), "tensor blk.0.ffn_gate.weight has shape [16, 32], the config implies [16, 262144]"),
        ]
        for (key, value, expected) in cases {
            let url = try llamaGGUF { metadata in metadata = metadata.map { $0.0 == key ? ($0.0, value) : $0 } }
            assertRefused("model.gguf: " + expected) { try loadStandalone(url) }
        }
        XCTAssertEqual(try loadStandalone(try llamaGGUF { _ in }).config.context, TinyModels.tied.context)
    }

    // MARK: safetensors

    func readSafeTensors(header: String, length: UInt64? = nil, dataBytes: Int) throws -> [String: SafeTensors.Tensor] {
        var b = CraftedBytes()
        b.u64(length ?? UInt64(header.utf8.count))
        b.data.append(contentsOf: Array(header.utf8))
        b.data.append(Data(count: dataBytes))
        let url = folder.appendingPathComponent("model.safetensors")
        try b.data.write(to: url)
        return try SafeTensors.read(url)
    }

    func entry(_ name: String, _ dtype: String = "F32", shape: [Int], offsets: [Int]) -> String {
        "\"\(name)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": \(offsets)}"
    }

    func testSafeTensorsHeaderLengthHugeNegativeOrPastTheEnd() {
        assertRefused("model.safetensors: the header length is 9223372036854775807, more than the limit of 4194304") {
            try readSafeTensors(header: "{}", length: UInt64(Int64.max), dataBytes: 0)
        }
        assertRefused("the header length is 18446744073709551615") { try readSafeTensors(header: "{}", length: .max, dataBytes: 0) }
        assertRefused("the header length is 1000, more than the 18 bytes left") { try readSafeTensors(header: "{}", length: 1000, dataBytes: 16) }
    }

    func testSafeTensorsOffsetsOutsideTheFileOrNegative() {
        assertRefused("tensor w: data_offsets [0, 9223372036854775807] are not a range inside the 16 data bytes") {
            try readSafeTensors(header: "{\(entry("w", shape: [4], offsets: [0, Int.max]))}", dataBytes: 16)
        }
        assertRefused("tensor w: data_offsets [-16, 0] are not a range") {
            try readSafeTensors(header: "{\(entry("w", shape: [4], offsets: [-16, 0]))}", dataBytes: 16)
        }
    }

    func testSafeTensorsNegativeShapesAndProductOverflow() {
        assertRefused("tensor w: shape [-4, -1]: dimension 0 is negative") {
            try readSafeTensors(header: "{\(entry("w", shape: [-4, -1], offsets: [0, 16]))}", dataBytes: 16)
        }
        assertRefused("tensor w: shape [4294967296, 4294967296] of F32 does not match data_offsets [0, 16]") {
            try readSafeTensors(header: "{\(entry("w", shape: [1 << 32, 1 << 32], offsets: [0, 16]))}", dataBytes: 16)
        }
        assertRefused("tensor w: shape [4611686018427387904] of F32 does not match") {
            try readSafeTensors(header: "{\(entry("w", shape: [1 << 62], offsets: [0, 16]))}", dataBytes: 16)
        }
    }

    func testSafeTensorsOverlappingOutOfOrderOrUncoveredRanges() throws {
        assertRefused("data_offsets start at 8, expected 16") {
            try readSafeTensors(header: "{\(entry("a", shape: [4], offsets: [0, 16])), \(entry("b", shape: [4], offsets: [8, 24]))}", dataBytes: 24)
        }
        assertRefused("tensor b: data_offsets start at 16, expected 0") {
            try readSafeTensors(header: "{\(entry("b", shape: [4], offsets: [16, 32]))}", dataBytes: 32)
        }
        assertRefused("the tensors cover 16 of the 32 data bytes") {
            try readSafeTensors(header: "{\(entry("a", shape: [4], offsets: [0, 16]))}", dataBytes: 32)
        }
        // Out of order in the header is fine when the ranges tile the data.
        let tensors = try readSafeTensors(header: "{\(entry("z", shape: [2], offsets: [0, 8])), \(entry("a", "F16", shape: [4], offsets: [8, 16]))}", dataBytes: 16)
        XCTAssertEqual(tensors["a"]?.values.count, 4)
    }

    func testSafeTensorsDtypeSizeMismatch() {
        assertRefused("tensor w: shape [4] of F16 does not match data_offsets [0, 16] (16 bytes)") {
            try readSafeTensors(header: "{\(entry("w", "F16", shape: [4], offsets: [0, 16]))}", dataBytes: 16)
        }
        assertRefused("tensor w: dtype I64; only F32, F16 and BF16 are read") {
            try readSafeTensors(header: "{\(entry("w", "I64", shape: [2], offsets: [0, 16]))}", dataBytes: 16)
        }
    }

    // MARK: config.json

    func writeFolder(config edit: (inout [String: Any]) -> Void) throws {
        let model = TinyModels.model(TinyModels.tied)
        try ModelFiles.save(model, to: folder)
        let url = folder.appendingPathComponent(ModelFiles.configFile)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    func testConfigValuesOutsideTheLimitsNameTheField() throws {
        let cases: [([String: Any], String)] = [
            (["vocab_size": 1 << 31], "vocab_size is 2147483648, outside 1...16777216"),
            (["hidden_size": 1 << 40], "hidden_size is 1099511627776, outside 1...65536"),
            (["num_hidden_layers": 1 << 35], "num_hidden_layers is 34359738368, outside 1...1024"),
            (["max_position_embeddings": 1 << 31], "max_position_embeddings is 2147483648, outside 1...1048576"),
            (["max_position_embeddings": 1 << 20, "hidden_size": 128, "num_attention_heads": 1, "num_key_value_heads": 1],
             "max_position_embeddings 1048576 × head size 128 / 2 is over the 16777216 RoPE entries"),
            (["num_attention_heads": 0], "num_attention_heads is 0, outside"),
            (["num_attention_heads": -2], "num_attention_heads is -2, outside"),
            (["num_attention_heads": 3], "hidden_size 16 is not a multiple of num_attention_heads 3"),
            (["intermediate_size": -32], "intermediate_size is -32"),
            (["eos_token_id": 1 << 40], "eos_token_id 1099511627776 is outside the vocabulary 0..<29"),
            (["head_dim": 4], "head_dim 4 is not hidden_size / num_attention_heads = 8"),
            (["model_type": "mistral"], "model_type mistral is not one of llama, qwen3"),
        ]
        for (fields, expected) in cases {
            try writeFolder { $0.merge(fields) { _, new in new } }
            assertRefused("config.json: " + expected) { try ModelFiles.load(from: folder) }
        }
    }

    /// A config within the limits that implies a four-terabyte model is refused by comparing it
    /// with the weights present, before anything is allocated.
    func testConfigInconsistentWithTheWeightsIsRefusedBeforeAllocating() throws {
        try writeFolder { $0["vocab_size"] = 1 << 24; $0["hidden_size"] = 1 << 16; $0["num_attention_heads"] = 1 << 10; $0["head_dim"] = 64 }
        assertRefused("model.safetensors: tensor model.embed_tokens.weight has shape [29, 16], the config implies [16777216, 65536]") {
            try ModelFiles.load(from: folder)
        }
        try writeFolder { $0["num_hidden_layers"] = 1000 }
        assertRefused("model.safetensors: tensor model.layers.2.input_layernorm.weight is missing") { try ModelFiles.load(from: folder) }
    }

    func testOversizedConfigFileIsRefused() throws {
        try writeFolder { _ in }
        try Data(count: ModelFiles.maxConfigBytes + 1).write(to: folder.appendingPathComponent(ModelFiles.configFile))
        assertRefused("config.json: 1048577 bytes; config files over 1048576 bytes are refused") { try ModelFiles.load(from: folder) }
    }

    /// The KV cache grows with the tokens fed, not with the context the config claims.
    func testGeneratorAllocatesForTheTokensFedNotTheContext() {
        var config = TinyModels.tied
        config.context = 1 << 20
        let model = TinyModels.model(config)
        let generator = Generator(model: model)
        var reference = TinyModels.tied
        reference.context = 100
        let small = Generator(model: TinyModels.model(reference))
        for t in 0..<70 {
            let a = Array(generator.step(Int32(t % 29))), b = Array(small.step(Int32(t % 29)))
            XCTAssertEqual(a, b)
        }
        XCTAssertEqual(generator.remaining, (1 << 20) - 70)
    }
}
