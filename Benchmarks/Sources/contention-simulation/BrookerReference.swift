/// The means Brooker's post reports at N = 190 (100 runs), which the simulation should reproduce within ±10%.
struct BrookerReference {
    let policy: String
    /// Mean writes per run.
    let writes: Double
    /// Mean completion time per run, in milliseconds.
    let completion: Double

    static let atN190: [BrookerReference] = [
        BrookerReference(policy: Policy.fullJitter.name, writes: 1_771, completion: 7_427),
        BrookerReference(policy: Policy.equalJitter.name, writes: 1_759, completion: 9_487),
        BrookerReference(policy: Policy.decorrelated.name, writes: 2_441, completion: 7_887),
    ]

    /// The largest relative difference allowed between a simulated mean and the reference.
    static let tolerance = 0.10
}
