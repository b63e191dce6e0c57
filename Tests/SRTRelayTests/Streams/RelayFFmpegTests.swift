import Foundation
import SRTTestSupport
import Testing

/// srt-relay between real encoders and players: ffmpeg publishes H.264 and AAC in MPEG-TS; ffprobe, ffmpeg and
/// srt-live-transmit read it back by stream id.
@Suite(
    "srt-relay with ffmpeg",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment),
    .enabled(if: Prerequisite.ffmpeg.allowsRunning, Prerequisite.ffmpeg.comment))
struct RelayFFmpegTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// ffmpeg publishing `seconds` of a test picture and tone, at their real rate, to `url`.
    static func publisher(to url: String, seconds: Int) throws -> TestProcess {
        try TestProcess(
            "/usr/bin/ffmpeg",
            [
                "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
                "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "\(seconds)",
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "mpegts", url,
            ])
    }

    /// The codecs ffprobe finds in `input` (a file or an SRT URL), each once (ffprobe lists a program's too).
    static func codecs(of input: String) async throws -> [String] {
        let probe = try TestProcess(
            "/usr/bin/ffprobe",
            [
                "-v", "error", "-analyzeduration", "2000000", "-probesize", "2000000", "-show_entries",
                "stream=codec_name", "-of", "csv=p=0", input,
            ])
        defer { probe.terminate() }
        // Seconds on a quiet machine; more while an encoder competes for the cores.
        _ = await probe.exitStatus(within: .seconds(20))
        return Set(probe.lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }).sorted()
    }

    @Test(
        "ffmpeg publishes; ffprobe and ffmpeg reading read:cam1 find H.264 and AAC; a reader there first gets every byte",
        .timeLimit(.minutes(1)))
    func publishAndRead() async throws {
        let started = try await RelayUnderTest.start()
        defer { started.stop() }
        let (log, port, directory) = (started.log, started.port, started.directory)
        let output = directory.path + "-reader.ts"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let reader = try LiveTransmitReader.start(port: port, streamID: "read:cam1", into: output)
        defer { reader.terminate() }
        _ = try await log.next("connection-opened")
        let publisher = try Self.publisher(
            to: "srt://127.0.0.1:\(port)?streamid=publish:cam1&pkt_size=1316", seconds: 12)
        defer { publisher.terminate() }
        _ = try await log.next("connection-opened")
        // ffmpeg as a reader, joining mid-stream, copies a second of it to a file that plays.
        let copy = directory.path + "-ffmpeg.ts"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let copier = try TestProcess(
            "/usr/bin/ffmpeg",
            [
                "-hide_banner", "-loglevel", "error", "-nostdin", "-analyzeduration", "1000000", "-probesize",
                "1000000", "-i", "srt://127.0.0.1:\(port)?streamid=read:cam1", "-c", "copy", "-t", "1", "-f", "mpegts",
                copy,
            ])
        defer { copier.terminate() }
        // A player joining mid-stream (ffprobe, meanwhile): it starts at a table, and finds both codecs.
        let live = try await Self.codecs(of: "srt://127.0.0.1:\(port)?streamid=read:cam1")
        #expect(live == ["aac", "h264"], "ffprobe found \(live)")
        let status = await copier.exitStatus(within: .seconds(20))
        #expect(status == 0, "ffmpeg: \(copier.standardError)")
        let copied = try await Self.codecs(of: copy)
        #expect(copied == ["aac", "h264"], "ffprobe found \(copied) in ffmpeg's copy")
        #expect(await publisher.exitStatus(within: .seconds(20)) == 0)
        var closed = try await log.next("connection-closed")
        while closed["role"] as? String != "publish" { closed = try await log.next("connection-closed") }
        let recordedBytes = try #require(closed["bytes"] as? Int)
        #expect(recordedBytes > 100_000)
        // The last messages arrive a latency after the publisher's end, and srt-live-transmit holds the last
        // kilobytes in its output buffer until it exits.
        _ = await RelayAcceptanceTests.eventually(within: .seconds(1)) {
            RelayReaderTests.fileBytes(output).count >= recordedBytes
        }
        reader.signal(SIGINT)
        _ = await reader.exitStatus(within: .seconds(3))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let recording = try #require(files.first.map { directory.appendingPathComponent($0).path })
        let read = RelayReaderTests.fileBytes(output)
        let recorded = RelayReaderTests.fileBytes(recording)
        let same = read == recorded
        #expect(same, "the reader got \(read.count) bytes, the recording has \(recorded.count)")
        let played = try await Self.codecs(of: output)
        #expect(played == ["aac", "h264"], "ffprobe found \(played)")
    }
}
