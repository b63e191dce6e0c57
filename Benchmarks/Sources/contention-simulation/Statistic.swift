/// Running mean and variance (Welford), for the standard error of a mean.
struct Statistic {
    private(set) var count = 0.0
    private(set) var mean = 0.0
    private var squares = 0.0

    mutating func add(_ value: Double) {
        count += 1
        let delta = value - mean
        mean += delta / count
        squares += delta * (value - mean)
    }

    /// The standard error of the mean: the sample standard deviation over √count.
    var standardError: Double {
        count > 1 ? (squares / (count - 1) / count).squareRoot() : 0
    }
}
