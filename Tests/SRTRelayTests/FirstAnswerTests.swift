import Foundation
import Testing

@testable import srt_relay

extension InProcessRecordingIO {
    /// The one-shot answer that lets a recording's close, a measurement or a file's creation stop waiting for a disk.
    @Suite("srt-relay first answer")
    struct FirstAnswerTests {
        @Test("the first answer wins, given before or after the wait; later ones are refused")
        func firstWins() async {
            let early = FirstAnswer<Int>()
            #expect(early.give(1))
            #expect(!early.give(2))
            #expect(await early.value == 1)

            let late = FirstAnswer<Bool>()
            #expect(!late.isAnswered)
            // Answered from another task while this one waits.
            let giver = Task {
                for _ in 0..<1000 {
                    await Task.yield()
                }
                return late.give(false)
            }
            #expect(await late.value == false)
            #expect(await giver.value)
            #expect(!late.give(true))
            #expect(late.isAnswered)
        }

        @Test("a call that does not answer within its limit is given up, and its late result cleaned up")
        func givenUp() async {
            let cleaned = FirstAnswer<Int>()
            // A call that takes 300 ms, waited for 50 ms: given up, and the result goes to `late`.
            let result = await RecordingIO.run(
                within: .milliseconds(50),
                {
                    usleep(300_000)
                    return 7
                },
                late: { cleaned.give($0) })
            #expect(result.value == nil && !result.isRefused)
            #expect(await cleaned.value == 7)
            // One that answers in time: its result.
            #expect(await RecordingIO.run(within: .seconds(5), { 8 }).value == 8)
        }
    }
}
