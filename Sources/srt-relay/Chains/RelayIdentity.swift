import SRTAdapter
import Supervisor

/// Who this relay is in a chain, and the loops it refuses.
///
/// A push or a pull whose stream id is in SRT's access-control form (`#!::…`, the default for both) carries the ids
/// of the relays the stream came through: `x-via=` followed by them, joined by dots, this relay's last. A relay that
/// finds its own id there refuses the caller with ``loopDetected`` (an edge pulling from itself, A pushing to B that
/// pushes back to A), and so does one that finds ``maxHops`` relays there already. Stream ids in other forms
/// (`read:cam1`, a CDN's own) are sent as written, without the list: a loop through them is not seen.
///
/// ```swift
/// let identity = try RelayIdentity(id: "edge-1")
/// identity.streamID("#!::r=cam1,m=request", after: ["origin"])   // "#!::r=cam1,m=request,x-via=origin.edge-1"
/// ```
struct RelayIdentity: Sendable, Hashable, CustomStringConvertible {
    let id: String

    /// The reject reason of a loop: the HTTP-like range's 508, "loop detected".
    static let loopDetected: SRTRejectReason = {
        do {
            return try SRTRejectReason(code: 1508)
        } catch {
            fatalError("1508 is a valid reject reason: \(error)")
        }
    }()

    /// The restart policy of pushes and pulls: the SRT caller's, and a loop refused is final too (the next handshake
    /// would carry the same chain).
    static let callerPolicy: RestartPolicy = {
        do {
            let loop = FailureClassifier.matching({ ($0 as? SRTError)?.rejectReason == loopDetected.code }, .giveUp)
            return try RestartPolicy(
                backoff: SRTCaller.defaultBackoff, classifier: .firstMatch([loop, SRTConnector.classifier]))
        } catch {
            fatalError("the pushes' and pulls' policy is valid: \(error)")
        }
    }()

    /// The most relays a stream may have come through; one more hop is refused as a loop.
    static let maxHops = 8

    /// Validates `id`: 1 to 32 letters, digits, `-` or `_` (it is carried in stream ids, dot-separated).
    init(id: String) throws(ParseFailure) {
        let allowed = id.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
        guard (1...32).contains(id.utf8.count), allowed else {
            throw ParseFailure("must be 1 to 32 letters, digits, - or _, got \"\(id)\"")
        }
        self.id = id
    }

    /// A fresh random id of 8 hexadecimal digits, for a relay not given one.
    static func random() -> RelayIdentity {
        let value = UInt32.random(in: .min ... .max)
        let digits = String(value, radix: 16)
        // Valid by construction: hexadecimal digits only.
        return RelayIdentity(valid: String(repeating: "0", count: 8 - digits.count) + digits)
    }

    private init(valid id: String) {
        self.id = id
    }

    /// `streamID` with the chain it carries on: `via` (the relays before this one) and this relay, when it is in the
    /// access-control form; unchanged otherwise.
    func streamID(_ streamID: String, after via: [String]) -> String {
        guard streamID.hasPrefix("#!::") else { return streamID }
        return streamID + ",x-via=" + (via + [id]).joined(separator: ".")
    }

    /// Whether a caller that came through `via` would close a loop here, or make the chain too long.
    func refuses(_ via: [String]) -> Bool {
        via.contains(id) || via.count >= Self.maxHops
    }

    var description: String { id }
}
