import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `--quiet`, for the commands that show progress.
struct ProgressOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Show no progress on stderr (nor, with --json, status lines); BLOCKVAULT_PROGRESS=0 does the same.")
    var quiet = false

    /// How progress is shown: not at all with `--quiet` or `BLOCKVAULT_PROGRESS=0`; as JSON status
    /// lines with `--json`; as one line rewritten in place when stderr is a terminal; else not at all.
    func mode(json: Bool) -> ProgressReporter.Mode {
        if quiet || ProcessInfo.processInfo.environment["BLOCKVAULT_PROGRESS"] == "0" { return .off }
        if json { return .json }
        return isatty(2) == 1 ? .terminal : .off
    }

    /// A reporter for `command` that shows what `sample` reads, in the mode the options ask for.
    func reporter(_ command: String, json: Bool, sample: @escaping @Sendable () -> ProgressSample) -> ProgressReporter {
        ProgressReporter(command: command, mode: mode(json: json), sample: sample)
    }
}

/// Shows a long command's progress on stderr while it runs, from a timer thread that polls the
/// operation's counters (through `sample`); never writes to stdout.
///
/// - terminal: one line, rewritten in place (`\r`, clear to end of line) four times a second with
///   the phase, counts, bytes, percentage, rate and ETA (those a total is known for), and erased
///   when the command ends, so that its summary is what stays. Lines other code writes to stderr
///   meanwhile (`printError`) erase it first; the next tick draws it again.
/// - json: a status line `{"message_type": "status", …}` every second, and a last one when the
///   operation ends well (phase "done", percent_done 1), so a script sees at least one.
///
/// One reporter serves one operation: `run` it around the work, once.
final class ProgressReporter: @unchecked Sendable {
    // @unchecked: `phase` and `phaseStarted` belong to the timer thread while it runs and to the
    // caller of `run` after it has been joined (the semaphores order the two); the rest is immutable.
    enum Mode { case off, terminal, json }

    let mode: Mode
    private let command: String
    private let sample: @Sendable () -> ProgressSample
    private let stopping = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let started = ProgressReporter.now()
    private var phase = ""
    private var phaseStarted = 0.0

    init(command: String, mode: Mode, sample: @escaping @Sendable () -> ProgressSample) {
        self.command = command
        self.mode = mode
        self.sample = sample
    }

    /// Runs `body` with progress shown, then ends the display: the terminal line erased, or the
    /// last JSON status line written when `body` returned (not when it threw: its error says why).
    func run<Result>(_ body: () throws -> Result) rethrows -> Result {
        guard mode != .off else { return try body() }
        let thread = Thread { [self] in
            let interval = mode == .terminal ? 0.25 : 1.0
            if mode == .terminal { emit(final: false) }
            while stopping.wait(timeout: .now() + interval) == .timedOut { emit(final: false) }
            stopped.signal()
        }
        thread.start()
        let result: Result
        do {
            result = try body()
        } catch {
            end(succeeded: false)
            throw error
        }
        end(succeeded: true)
        return result
    }

    private func end(succeeded: Bool) {
        stopping.signal()
        stopped.wait()
        switch mode {
        case .terminal: Console.eraseProgress()
        case .json: if succeeded { emit(final: true) }
        case .off: break
        }
    }

    private func emit(final: Bool) {
        var current = sample()
        let now = ProgressReporter.now()
        if current.phase != phase {
            phase = current.phase
            phaseStarted = now
        }
        let phaseSeconds = now - phaseStarted
        if final {
            current.phase = "done"
            current.fraction = 1
        }
        var remaining: Double?
        if let fraction = current.fraction, current.totalsFinal, fraction > 0.001, fraction < 1, phaseSeconds >= 1 {
            remaining = phaseSeconds * (1 - fraction) / fraction
        }
        if final { remaining = 0 }
        switch mode {
        case .json:
            var fields: [(String, JSON)] = [("message_type", .string("status")), ("command", .string(command)),
                                            ("phase", .string(current.phase)),
                                            ("seconds_elapsed", .double(((now - started) * 1000).rounded() / 1000))]
            if let remaining { fields.append(("seconds_remaining", .integer(Int64(remaining.rounded())))) }
            if let fraction = current.fraction { fields.append(("percent_done", .double((fraction * 10_000).rounded() / 10_000))) }
            Console.writeStatus(JSON.object(fields + current.fields).text)
        case .terminal:
            var line = "[\(ProgressReporter.clock(now - started))] \(current.phase)"
            if let fraction = current.fraction { line += String(format: " %.1f%%", fraction * 100) }
            if !current.text.isEmpty { line += "  " + current.text }
            if let bytes = current.bytesDone, bytes > 0, phaseSeconds >= 0.5 {
                line += ", \(Format.bytes(Int64(Double(bytes) / phaseSeconds)))/s"
            }
            if let remaining { line += ", ETA \(ProgressReporter.clock(remaining))" }
            Console.drawProgress(line)
        case .off:
            break
        }
    }

    /// `M:SS`, or `H:MM:SS` from an hour on.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(max(0, seconds).rounded())
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// What a progress display shows at one moment, read from an operation's counters.
struct ProgressSample {
    var phase: String
    /// The part done, 0 to 1, when a total is known.
    var fraction: Double?
    /// Bytes done in this phase, for the rate.
    var bytesDone: Int64?
    /// Whether the totals are final (not still growing), so an ETA means something.
    var totalsFinal = true
    /// The command's JSON fields, after the common ones.
    var fields: [(String, JSON)] = []
    /// The counts as text, for the terminal line.
    var text = ""

    /// Counts of `noun` (files, packs) and bytes: JSON `<noun>_done`, `total_<noun>`, `bytes_done`,
    /// `total_bytes` (totals only when known); the fraction is by bytes when their total is known
    /// and not zero, else by items.
    static func counts(phase: String, noun: String, done: Int64, total: Int64?, bytesDone: Int64?, bytesTotal: Int64?,
                       totalsFinal: Bool = true) -> ProgressSample {
        var sample = ProgressSample(phase: phase, bytesDone: bytesDone, totalsFinal: totalsFinal)
        sample.fields.append(("\(noun)_done", .integer(done)))
        if let total { sample.fields.append(("total_\(noun)", .integer(total))) }
        sample.text = total.map { "\(done)/\($0)\(totalsFinal ? "" : "+") \(noun)" } ?? "\(done) \(noun)"
        if let bytesDone {
            sample.fields.append(("bytes_done", .integer(bytesDone)))
            if let bytesTotal { sample.fields.append(("total_bytes", .integer(bytesTotal))) }
            if bytesDone > 0 || (bytesTotal ?? 0) > 0 {
                sample.text += ", " + Format.bytes(bytesDone) + (bytesTotal.map { " of " + Format.bytes($0) } ?? "")
            }
        }
        if let bytesTotal, let bytesDone, bytesTotal > 0 {
            sample.fraction = min(1, Double(bytesDone) / Double(bytesTotal))
        } else if let total {
            sample.fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        }
        return sample
    }
}
