import Foundation
import Hummingbird
import PipeKit

/// `POST /tokenize` (`prompt` or `content`: text to token ids) and `POST /detokenize`
/// (`tokens`: ids to text), as llama.cpp's and vLLM's servers answer them.
struct TokenizeEndpoints {
    let state: ServerState

    func tokenize(_ request: Request, context: ServeContext) async throws -> Response {
        let model = try state.readyModel()
        let fields = try RequestFields(body: try await state.body(of: request))
        guard let text = try fields.string("prompt") ?? fields.string("content") else {
            throw APIError.invalid("give the text as prompt or content", param: "prompt")
        }
        let ids = model.encode(text)
        return Self.json(.object(["tokens": .array(ids.map { .int(Int64($0)) }), "count": .int(Int64(ids.count)),
                                  "max_model_len": .int(Int64(model.context))]))
    }

    func detokenize(_ request: Request, context: ServeContext) async throws -> Response {
        let model = try state.readyModel()
        let fields = try RequestFields(body: try await state.body(of: request))
        guard let list = fields["tokens"]?.arrayValue else { throw APIError.invalid("tokens must be a list of token ids", param: "tokens") }
        let ids = try list.map { value throws(APIError) -> Int32 in
            guard let id = value.intValue, let small = Int32(exactly: id) else { throw .invalid("tokens must be a list of token ids", param: "tokens") }
            return small
        }
        return Self.json(.object(["prompt": .string(try model.text(ids))]))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.canonicalJSON)))
    }
}
