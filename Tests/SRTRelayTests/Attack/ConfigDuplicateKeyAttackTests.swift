import Foundation
import SRTAdapter
import Testing

@testable import srt_relay

/// `--config` is strict ("a typo must not leave a stream open"); `JSONDecoder` alone takes a key given twice
/// silently, keeping one value: a later entry that adds a passphrase, as an operator appending an override would
/// write it, was ignored without a word and the stream stayed open. A key given twice is an error.
@Suite("attack: duplicate keys in --config")
struct ConfigDuplicateKeyAttackTests {
    static func parse(_ text: String) -> StreamConfiguration? {
        try? StreamConfiguration.parse(Data(text.utf8), path: "streams.json")
    }

    @Test("a stream listed twice is refused, or its later entry (with a read secret) is the one in force")
    func duplicateStreamEntry() {
        let configuration = Self.parse(
            """
            {"streams": {
              "cam1": {"read": {}},
              "cam1": {"read": {"passphrase": "viewer-secret-1"}}
            }}
            """)
        // Silently accepted with cam1 readable by anyone: the later, locked-down entry was dropped.
        let open = configuration.map { $0.stream(named: "cam1")?.read?.passphrase == nil } ?? false
        #expect(!open, "a duplicate \"cam1\" entry was accepted and the one with the passphrase ignored")
    }

    @Test("a passphrase given twice in one role is refused (the second is never even validated)")
    func duplicatePassphraseKey() {
        // The second value is 3 bytes, which the validator refuses on its own; given second, it is never looked at.
        let configuration = Self.parse(
            """
            {"streams": {"cam1": {"read": {"passphrase": "viewer-secret-1", "passphrase": "abc"}}}}
            """)
        #expect(configuration == nil, "a role with two \"passphrase\" keys was accepted")
    }
}
