import Synchronization

/// The attempts in flight per endpoint and per organization on this instance, so that one slow
/// receiver (or one tenant's many) holds at most its share of the delivery slots and the others'
/// deliveries are claimed beside it instead of queueing behind it.
final class DeliverySlots: Sendable {
    let perEndpoint: Int
    let perOrganization: Int
    private let counts = Mutex<(endpoints: [String: Int], organizations: [String: Int])>(([:], [:]))

    init(perEndpoint: Int, perOrganization: Int) {
        self.perEndpoint = perEndpoint
        self.perOrganization = perOrganization
    }

    /// Endpoints and organizations with no slot left: the next claim skips their deliveries.
    func exhausted() -> (endpoints: [String], organizations: [String]) {
        counts.withLock { counts in
            (
                counts.endpoints.filter { $0.value >= perEndpoint }.map(\.key),
                counts.organizations.filter { $0.value >= perOrganization }.map(\.key)
            )
        }
    }

    func take(endpoint: String, organization: String) {
        counts.withLock { counts in
            counts.endpoints[endpoint, default: 0] += 1
            counts.organizations[organization, default: 0] += 1
        }
    }

    func free(endpoint: String, organization: String) {
        counts.withLock { counts in
            counts.endpoints[endpoint] = counts.endpoints[endpoint].flatMap { $0 > 1 ? $0 - 1 : nil }
            counts.organizations[organization] = counts.organizations[organization].flatMap { $0 > 1 ? $0 - 1 : nil }
        }
    }
}
