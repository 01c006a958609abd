import Glibc
import Testing
@testable import Netlink

/// The socket's state machine (sequence and port-id checks, multipart dumps,
/// `NLM_F_DUMP_INTR` retries, batches, extended ACKs, lost replies) driven through
/// `FakeNetlinkTransport` with exactly the datagrams each case needs. Pure: no root,
/// no kernel. Each case is one a broken state machine would get wrong: the stale or
/// foreign reply is a refusal or a wrong link that would surface if it were taken.
@Suite("Transport: the socket state machine on a fake", .timeLimit(.minutes(1)))
struct TransportTests {
    // MARK: - Requests and their ACKs

    @Test("a request goes out once with REQUEST|ACK, the port id and a fresh sequence number; its ACK ends it")
    func requestAndAck() throws {
        let fake = FakeNetlinkTransport(portID: 777) { r in [.messages([.acknowledgement(of: r.messages[0])])] }
        let h = NetlinkHandle(transport: fake)
        try h.deleteLink(.name("a"))
        try h.deleteLink(.name("b"))
        let sent = fake.requests.map(\.messages)
        #expect(sent.map(\.count) == [1, 1])
        let first = sent[0][0], second = sent[1][0]
        #expect(first.type == MsgType.delLink)
        #expect(first.flags.isSuperset(of: [.request, .ack]) && second.flags.isSuperset(of: [.request, .ack]))
        #expect(first.portID == 777 && second.portID == 777)
        #expect(second.sequence == first.sequence &+ 1)
        #expect(fake.pendingReplies == 0)
    }

    @Test("replies with another sequence number, another port id, or from another sender are ignored")
    func foreignRepliesIgnored() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            var earlier = m
            earlier.sequence &-= 1
            var otherPort = m
            otherPort.portID &+= 1
            return [
                // Each of these would fail the request, or answer it wrongly, if taken.
                .messages([.acknowledgement(of: earlier, errno: EEXIST)]),
                .messages([linkReply(to: earlier, index: 9, name: "stale", flags: [])]),
                .messages([.acknowledgement(of: otherPort, errno: EPERM)]),
                .messages([linkReply(to: otherPort, index: 8, name: "theirs", flags: [])]),
                .messages([linkReply(to: m, index: 7, name: "forged", flags: []), .acknowledgement(of: m, errno: EBUSY)],
                          from: 31337),
                .messages([linkReply(to: m, index: 3, name: "eth0", flags: []), .acknowledgement(of: m)]),
            ]
        }
        let link = try NetlinkHandle(transport: fake).link(named: "eth0")
        #expect(link?.name == "eth0")
        #expect(link?.index == 3)
        #expect(fake.pendingReplies == 0)
    }

    @Test("a refusal carries the errno, the extended-ACK message and offset, and names the request")
    func extendedAck() throws {
        for capped in [true, false] {
            let fake = FakeNetlinkTransport { r in
                [.messages([.acknowledgement(of: r.messages[0], errno: EINVAL, extAckMessage: "Unknown device type",
                                             extAckOffset: 36, capped: capped)])]
            }
            let error = try #require(failure { () throws(NetlinkError) in
                try NetlinkHandle(transport: fake).deleteLink(.name("vx0"))
            })
            #expect(error.errno == EINVAL)
            #expect(error.extAckMessage == "Unknown device type", "capped: \(capped)")
            #expect(error.extAckOffset == 36)
            #expect(error.request.contains("RTM_DELLINK"))
            #expect(error.description.contains("Unknown device type"))
            #expect(error.description.contains("offset 36"))
        }
    }

    @Test("a refusal without extended ACK still fails with its errno")
    func plainRefusal() throws {
        let fake = FakeNetlinkTransport { r in [.messages([.acknowledgement(of: r.messages[0], errno: ENODEV)])] }
        let error = try #require(failure { () throws(NetlinkError) in
            try NetlinkHandle(transport: fake).deleteLink(.name("gone"))
        })
        #expect(error.errno == ENODEV)
        #expect(error.extAckMessage == nil)
    }

    // MARK: - Dumps

    @Test("a dump split over several datagrams is returned whole and in order")
    func multipartDump() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            return FakeNetlinkTransport.Reply.separately([linkReply(to: m, index: 1, name: "lo"),
                                                          linkReply(to: m, index: 2, name: "br0")])
                + [.messages([linkReply(to: m, index: 3, name: "veth0"), linkReply(to: m, index: 4, name: "veth1")]),
                   .messages([.done(for: m)])]
        }
        let h = NetlinkHandle(transport: fake)
        #expect(try h.links().map(\.name) == ["lo", "br0", "veth0", "veth1"])
        let request = try #require(fake.requests.first?.messages.first)
        #expect(request.flags.isSuperset(of: [.request, .dump]))
        #expect(h.interruptedDumpCount == 0)
    }

    @Test("an interrupted dump (NLM_F_DUMP_INTR) is repeated, and only the complete one is returned")
    func interruptedDumpRetried() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            if r.index == 0 {
                // The kernel flags the messages after the concurrent change.
                return [.messages([linkReply(to: m, index: 1, name: "lo"),
                                   linkReply(to: m, index: 5, name: "half-made", flags: [.multi, .dumpInterrupted])]),
                        .messages([.done(for: m)])]
            }
            return [.messages([linkReply(to: m, index: 1, name: "lo"), linkReply(to: m, index: 6, name: "made")]),
                    .messages([.done(for: m)])]
        }
        let h = NetlinkHandle(transport: fake)
        #expect(try h.links().map(\.name) == ["lo", "made"])
        #expect(fake.requests.count == 2)
        let sequences = fake.requests.map { $0.messages[0].sequence }
        #expect(sequences[0] != sequences[1])
        #expect(h.interruptedDumpCount == 1)
    }

    @Test("the flag on NLMSG_DONE alone marks the dump interrupted too")
    func interruptedOnDone() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            var done = NetlinkMessage.done(for: m)
            if r.index == 0 { done.flags.insert(.dumpInterrupted) }
            return [.messages([linkReply(to: m, index: 1, name: r.index == 0 ? "old" : "new"), done])]
        }
        let h = NetlinkHandle(transport: fake)
        #expect(try h.links().map(\.name) == ["new"])
        #expect(h.interruptedDumpCount == 1)
    }

    @Test("late replies of an interrupted attempt, arriving during the retry, are not mixed into its result")
    func lateRepliesOfEarlierAttempt() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            if r.index == 0 {
                return [.messages([linkReply(to: m, index: 1, name: "lo", flags: [.multi, .dumpInterrupted]),
                                   .done(for: m)])]
            }
            var earlier = m
            earlier.sequence &-= 1
            return [.messages([linkReply(to: earlier, index: 9, name: "ghost")]),
                    .messages([.done(for: earlier)]),
                    .messages([linkReply(to: m, index: 1, name: "lo")]),
                    .messages([.done(for: m)])]
        }
        #expect(try NetlinkHandle(transport: fake).links().map(\.name) == ["lo"])
    }

    @Test("a dump interrupted every time fails with EINTR after a bounded number of attempts")
    func interruptedForever() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            return [.messages([linkReply(to: m, index: 1, name: "lo", flags: [.multi, .dumpInterrupted]), .done(for: m)])]
        }
        let h = NetlinkHandle(transport: fake)
        let error = try #require(failure { () throws(NetlinkError) in _ = try h.links() })
        #expect(error.errno == EINTR)
        #expect(fake.requests.count == NetlinkSocket.dumpRetries)
        #expect(h.interruptedDumpCount == NetlinkSocket.dumpRetries - 1)
    }

    @Test("a dump that ends with an error in NLMSG_DONE fails with it and its extended-ACK text")
    func dumpDoneError() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            return [.messages([linkReply(to: m, index: 1, name: "lo")]),
                    .messages([.done(for: m, errno: EMSGSIZE, extAckMessage: "Dump did not fit")])]
        }
        let error = try #require(failure { () throws(NetlinkError) in _ = try NetlinkHandle(transport: fake).links() })
        #expect(error.errno == EMSGSIZE)
        #expect(error.extAckMessage == "Dump did not fit")
    }

    @Test("a dump refused with NLMSG_ERROR fails with the kernel's message")
    func dumpRefused() throws {
        let fake = FakeNetlinkTransport { r in
            [.messages([.acknowledgement(of: r.messages[0], errno: EINVAL, extAckMessage: "Invalid header for link dump")])]
        }
        let error = try #require(failure { () throws(NetlinkError) in _ = try NetlinkHandle(transport: fake).links() })
        #expect(error.errno == EINVAL)
        #expect(error.extAckMessage == "Invalid header for link dump")
        #expect(error.request == "RTM_GETLINK dump")
    }

    @Test("NLMSG_OVERRUN in a dump fails with ENOBUFS")
    func dumpOverrun() throws {
        let fake = FakeNetlinkTransport { r in
            [.messages([NetlinkMessage(type: MsgType.overrun, flags: [], sequence: r.messages[0].sequence,
                                       portID: r.messages[0].portID, payload: [])])]
        }
        let error = try #require(failure { () throws(NetlinkError) in _ = try NetlinkHandle(transport: fake).links() })
        #expect(error.errno == ENOBUFS)
    }

    // MARK: - Batches

    @Test("a batch sends every request before reading an ACK, and accepts the ACKs in any order")
    func batchAcksAnyOrder() throws {
        let fake = FakeNetlinkTransport { r in
            [.messages(r.messages.reversed().map { .acknowledgement(of: $0) })]
        }
        try NetlinkHandle(transport: fake).batch([.deleteLink(.name("a")), .deleteLink(.name("b")), .deleteLink(.name("c"))])
        #expect(fake.requests.count == 1)
        let messages = try #require(fake.requests.first?.messages)
        #expect(messages.count == 3)
        #expect(messages.allSatisfy { $0.flags.isSuperset(of: [.request, .ack]) })
        #expect(Set(messages.map(\.sequence)).count == 3)
        #expect(fake.pendingReplies == 0)
    }

    @Test("a batch waits for every ACK, not just the last one")
    func batchWaitsForAll() throws {
        // The ACK of the middle request comes last, after a stale refusal for it and
        // one for another socket.
        let fake = FakeNetlinkTransport { r in
            let m = r.messages
            var stale = m[1]
            stale.sequence &-= 10
            var otherPort = m[1]
            otherPort.portID &+= 1
            return [.messages([.acknowledgement(of: m[0]), .acknowledgement(of: m[2])]),
                    .messages([.acknowledgement(of: stale, errno: EEXIST)]),
                    .messages([.acknowledgement(of: otherPort, errno: EEXIST)]),
                    .messages([.acknowledgement(of: m[1], errno: EBUSY, extAckMessage: "late refusal")])]
        }
        let error = try #require(failure { () throws(NetlinkError) in
            try NetlinkHandle(transport: fake).batch([.deleteLink(.name("a")), .deleteLink(.name("b")), .deleteLink(.name("c"))])
        })
        #expect(error.errno == EBUSY)
        #expect(error.extAckMessage == "late refusal")
        #expect(fake.pendingReplies == 0)
    }

    @Test("a batch fails with the first refused request in request order, named, with its extended ACK")
    func batchNamesFailure() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages
            // Refusals of the 2nd and 3rd, the 3rd's ACK first.
            return [.messages([.acknowledgement(of: m[2], errno: ENODEV, extAckMessage: "third"),
                               .acknowledgement(of: m[0]),
                               .acknowledgement(of: m[1], errno: EEXIST, extAckMessage: "second")])]
        }
        let error = try #require(failure { () throws(NetlinkError) in
            try NetlinkHandle(transport: fake).batch([.deleteLink(.name("a")), .deleteLink(.name("bee")), .deleteLink(.name("c"))])
        })
        #expect(error.errno == EEXIST)
        #expect(error.extAckMessage == "second")
        #expect(error.request.contains("bee"))
        #expect(error.detail == "request 2 of 3 in batch")
    }

    @Test("send then collect: one datagram out, one result per request in request order, a GET's reply kept, a refusal with its extended ACK")
    func sendThenCollect() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages
            // Out of order, the GET's object before its ACK, a stale refusal ignored.
            var stale = m[0]
            stale.sequence &-= 7
            return [.messages([.acknowledgement(of: m[2], errno: ENODEV, extAckMessage: "no such peer"),
                               .acknowledgement(of: stale, errno: EEXIST)]),
                    .messages([linkReply(to: m[1], index: 2, name: "eth0", flags: []), .acknowledgement(of: m[1]),
                               .acknowledgement(of: m[0])])]
        }
        let h = NetlinkHandle(transport: fake)
        let pending = try h.send([try .setLink(.name("eth0"), LinkChange(alias: "x", ipv6AddressGeneration: IPv6AddressGeneration.none)),
                                  .getLink(.name("eth0")), .deleteLink(.name("gone"))])
        #expect(pending.count == 3)
        #expect(fake.requests.count == 1)
        #expect(fake.requests.first?.messages.count == 3)
        let results = try h.collect(pending)
        #expect(results.count == 3)
        guard results.count == 3 else { return }
        if case .success(let replies) = results[0] { #expect(replies.isEmpty) } else { Issue.record("first refused") }
        if case .success(let replies) = results[1] {
            #expect(try Link(firstIn: replies)?.index == 2)
        } else { Issue.record("GET refused") }
        if case .failure(let e) = results[2] {
            #expect(e.errno == ENODEV)
            #expect(e.extAckMessage == "no such peer")
            #expect(e.request.contains("gone"))
        } else { Issue.record("refusal lost") }
        #expect(fake.pendingReplies == 0)
    }

    @Test("a batch larger than the window goes out window by window; a refused window stops the rest")
    func batchWindows() throws {
        let requests = (0..<(NetlinkSocket.batchWindow + 6)).map { NetlinkRequest.deleteLink(.name("l\($0)")) }
        let fine = FakeNetlinkTransport { r in [.messages(r.messages.map { .acknowledgement(of: $0) })] }
        try NetlinkHandle(transport: fine).batch(requests)
        #expect(fine.requests.map(\.messages.count) == [NetlinkSocket.batchWindow, 6])

        let refusing = FakeNetlinkTransport { r in
            [.messages(r.messages.enumerated().map { i, m in .acknowledgement(of: m, errno: i == 3 ? EPERM : 0) })]
        }
        let error = try #require(failure { () throws(NetlinkError) in try NetlinkHandle(transport: refusing).batch(requests) })
        #expect(error.errno == EPERM)
        #expect(error.detail == "request 4 of \(requests.count) in batch")
        #expect(refusing.requests.count == 1)
    }

    // MARK: - Receive failures and damaged replies

    @Test("EINTR on receive is retried and the reply still taken")
    func eintrRetried() throws {
        let fake = FakeNetlinkTransport { r in
            [.failure(errno: EINTR), .failure(errno: EINTR), .messages([.acknowledgement(of: r.messages[0])])]
        }
        try NetlinkHandle(transport: fake).deleteLink(.name("x"))
        #expect(fake.receiveCount == 3)
    }

    @Test("ENOBUFS fails the request, and the socket works afterwards (the lost request's late reply is skipped)")
    func enobufsThenRecover() throws {
        let fake = FakeNetlinkTransport { r in
            let m = r.messages[0]
            if r.index == 0 { return [.failure(errno: ENOBUFS)] }
            var first = m
            first.sequence &-= 1
            return [.messages([.acknowledgement(of: first, errno: EEXIST)]), .messages([.acknowledgement(of: m)])]
        }
        let h = NetlinkHandle(transport: fake)
        let error = try #require(failure { () throws(NetlinkError) in try h.deleteLink(.name("a")) })
        #expect(error.errno == ENOBUFS)
        #expect(error.request.contains("RTM_DELLINK"))
        try h.deleteLink(.name("b"))
    }

    @Test("no reply at all fails (the receive timeout) instead of hanging")
    func noReply() throws {
        let fake = FakeNetlinkTransport { _ in [] }
        let error = try #require(failure { () throws(NetlinkError) in try NetlinkHandle(transport: fake).deleteLink(.name("a")) })
        #expect(error.errno == EAGAIN)
    }

    @Test("a truncated reply datagram fails with EBADMSG, without trapping")
    func truncatedReply() throws {
        let fake = FakeNetlinkTransport { r in
            let ack = NetlinkMessage.acknowledgement(of: r.messages[0]).bytes
            return [.datagram(NetlinkDatagram(bytes: Array(ack.dropLast(6))))]
        }
        let error = try #require(failure { () throws(NetlinkError) in try NetlinkHandle(transport: fake).deleteLink(.name("a")) })
        #expect(error.errno == EBADMSG)
    }

    @Test("a failed send fails the request with the send's error")
    func sendFails() throws {
        let fake = FakeNetlinkTransport { _ throws(NetlinkError) in throw NetlinkError(errno: EPERM, request: "sendto") }
        let error = try #require(failure { () throws(NetlinkError) in try NetlinkHandle(transport: fake).deleteLink(.name("a")) })
        #expect(error.errno == EPERM)
        #expect(error.request.contains("RTM_DELLINK"))
    }
}

// MARK: - Helpers

/// The error `body` throws, or nil.
func failure(_ body: () throws(NetlinkError) -> Void) -> NetlinkError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// An `RTM_NEWLINK` reply to `request` describing link `name` at `index`.
func linkReply(to request: NetlinkMessage, index: Int32, name: String, flags: NetlinkFlags = [.multi]) -> NetlinkMessage {
    var e = AttributeEncoder()
    e.appendRaw(IfInfoMsg(index: index).bytes)
    e.string(IFLA.ifname, name)
    return .reply(to: request, type: MsgType.newLink, flags: flags, payload: e.bytes)
}
