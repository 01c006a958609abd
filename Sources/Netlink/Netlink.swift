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
// - `NetworkNamespace` / `NamespaceID` / `NamespaceThread`: named namespaces
//   shared with iproute2 (`/run/netns`), identity by nsfs dev+inode, and running
//   work on a pthread inside a namespace. No Swift concurrency or Dispatch thread
//   ever calls setns.
// - Value types read from the kernel (`Link`, `InterfaceAddress`, `Route`,
//   `Neighbour`) keep the attributes they don't decode as `RawAttribute`s.
