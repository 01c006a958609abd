// Netlink: netform's own small rtnetlink layer.
//
// Layout
// - `NetlinkError`: the one error type (errno + strerror, extended-ACK message and
//   offset, the request that failed).
// - `AttributeEncoder` / `AttributeList` / `RawAttribute` / `NetlinkMessage`: the
//   wire format. Encoding builds nested attributes with `nested {}`; decoding never
//   traps on malformed input, it throws `NetlinkError` (errno EBADMSG).
// - `NetlinkRequest`: a message ready to send. Static builders exist for every
//   operation (`.newLink`, `.setLink`, `.setBridgePort`, `.moveLink`,
//   `.deleteLink`, `.deleteLinkGroup`, `.newAddress`, `.newRoute`, `.newNeighbour`,
//   `.newFDB`, their deletes and dumps), so callers can also `batch` them.
// - `NetlinkHandle`: one rtnetlink socket bound to one network namespace; opened
//   inside that namespace on a short-lived dedicated pthread. Synchronous,
//   `Sendable` (a lock serializes requests). Typed methods: `links()`,
//   `link(named:)`, `createLink`, `setLink`, `addresses()`, `addRoute`, `fdb()`...
// - `NetlinkTransport`: the datagram layer under the handle's state machine
//   (`NetlinkSocket`: sequence/port-id checks, dumps, `NLM_F_DUMP_INTR` retries,
//   batches, extended ACKs). The real one wraps an `AF_NETLINK` socket;
//   `FakeNetlinkTransport` scripts the kernel's replies for tests without root
//   (`NetlinkHandle(transport:)`, with the `NetlinkMessage.acknowledgement`/`done`/
//   `reply`/`notification` builders).
// - `NetlinkSubscription`: rtnetlink notifications of one namespace as an
//   `AsyncSequence` of `NetlinkEvent` (kind, deletion, interface, overrun); its
//   socket opened inside the namespace by `NamespaceThread.run`, read by a reader
//   thread of its own; `cancel()` stops it.
// - `NetworkNamespace` / `NamespaceID` / `NamespaceThread`: named namespaces
//   shared with iproute2 (`/run/netns`), identity by nsfs dev+inode, and running
//   work on a pthread inside a namespace. No Swift concurrency or Dispatch thread
//   ever calls setns.
// - Value types read from the kernel (`Link`, `InterfaceAddress`, `Route`,
//   `Neighbour`) keep the attributes they don't decode as `RawAttribute`s.
