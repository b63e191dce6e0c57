/// The command line: `contention-simulation [--runs 100] [--csv contention-simulation.csv]`.
struct Options {
    /// Runs per policy and N.
    var runs = 100
    /// Where the CSV of every measurement goes.
    var csvPath = "contention-simulation.csv"

    /// A command line that cannot be understood.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    init(_ arguments: some Sequence<String>) throws(UsageError) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--runs":
                guard let value = iterator.next().flatMap({ Int($0) }), value > 0 else {
                    throw UsageError(description: "--runs needs a positive number")
                }
                runs = value
            case "--csv":
                guard let value = iterator.next() else { throw UsageError(description: "--csv needs a path") }
                csvPath = value
            default:
                throw UsageError(description: "usage: contention-simulation [--runs 100] [--csv PATH]")
            }
        }
    }
}
