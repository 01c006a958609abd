import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// `--metrics HOST:PORT`: a small HTTP server for Prometheus (`GET /metrics`) and
/// for liveness checks (`GET /healthz`: 200 when the last reconcile converged, 503
/// with the reason otherwise).
///
/// Why it exists: scraping is how operators watch daemons; the agent serves only
/// these two read-only paths, bound to the address given (loopback in the README).
public struct MetricsServer: Service {
    public let host: String
    public let port: Int
    let metrics: AgentMetrics
    let logger: Logger
    /// Called with the bound port once listening (port 0 picks a free one).
    let onBound: @Sendable (Int) -> Void

    public init(host: String, port: Int, metrics: AgentMetrics, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.metrics = metrics
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let metrics = self.metrics
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(metrics: metrics))
                }
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        logger.info("serving metrics", metadata: ["address": "\(host):\(bound)"])
        onBound(bound)
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let metrics: AgentMetrics
        var path: String?
        var method: HTTPMethod = .GET

        init(metrics: AgentMetrics) { self.metrics = metrics }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                method = head.method
            case .body:
                break
            case .end:
                let (status, type, body) = response()
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: String(body.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                if method != .HEAD {
                    context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                path = nil
            }
        }

        func response() -> (HTTPResponseStatus, String, [UInt8]) {
            guard method == .GET || method == .HEAD else { return (.methodNotAllowed, "text/plain", Array("only GET\n".utf8)) }
            switch path {
            case "/metrics":
                return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
            case "/healthz":
                let h = metrics.healthStatus
                return (h.healthy ? .ok : .serviceUnavailable, "text/plain", Array((h.reason + "\n").utf8))
            default:
                return (.notFound, "text/plain", Array("not found: /metrics and /healthz are served\n".utf8))
            }
        }
    }
}
