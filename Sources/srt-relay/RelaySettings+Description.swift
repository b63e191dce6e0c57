extension RelaySettings {
    /// Where streams go, for the first line.
    var destinationDescription: String {
        switch destination {
        case .record(let directory): directory
        case .forward(let target, _): target.description
        }
    }

    /// The first line: what the relay does, with which settings (the passphrase shows as its length only).
    var summary: String {
        let action =
            switch destination {
            case .record(let directory): "recording each stream to \(directory)/"
            case .forward(let target, _): "relaying one stream at a time to \(target)"
            }
        var text = "\(action); \(listener); restarts: \(policy)"
        if let chaosPeriod { text += "; chaos every \(Units.duration(chaosPeriod))" }
        if chaosOnSignal { text += "; chaos on SIGUSR1" }
        return text
    }
}
