import { MetricsRegistry } from "./index.js";

describe("MetricsRegistry: pre-bound series and scrape-time gauges", () => {
  it("renders bound counters and histograms in the text format, with the default labels", async () => {
    const registry = new MetricsRegistry({ defaultMetrics: false, defaultLabels: { service: "scoring" } });
    const requests = registry.fastCounter({ name: "rrs_requests_total", help: "Requests.", labelNames: ["endpoint", "model"] });
    const duration = registry.fastHistogram({ name: "rrs_duration_seconds", help: "Latency.", labelNames: ["endpoint"], buckets: [0.01, 0.1, 1] });
    const a = requests.bind({ endpoint: 'ws/"quoted"', model: "m1" });
    a.inc();
    a.inc(2);
    expect(requests.bind({ endpoint: 'ws/"quoted"', model: "m1" })).toBe(a);
    const d = duration.bind({ endpoint: "e" });
    for (const value of [0.005, 0.05, 0.05, 5]) d.observe(value);
    const text = await registry.metrics();
    expect(text).toContain("# TYPE rrs_requests_total counter");
    expect(text).toContain('rrs_requests_total{endpoint="ws/\\"quoted\\"",model="m1",service="scoring"} 3');
    expect(text).toContain('rrs_duration_seconds_bucket{endpoint="e",service="scoring",le="0.01"} 1');
    expect(text).toContain('rrs_duration_seconds_bucket{endpoint="e",service="scoring",le="0.1"} 3');
    expect(text).toContain('rrs_duration_seconds_bucket{endpoint="e",service="scoring",le="1"} 3');
    expect(text).toContain('rrs_duration_seconds_bucket{endpoint="e",service="scoring",le="+Inf"} 4');
    expect(text).toContain('rrs_duration_seconds_sum{endpoint="e",service="scoring"} 5.105');
    expect(text).toContain('rrs_duration_seconds_count{endpoint="e",service="scoring"} 4');

    requests.remove({ endpoint: 'ws/"quoted"', model: "m1" });
    expect(await registry.metrics()).not.toContain("rrs_requests_total{");
  });

  it("reads a collected gauge at scrape time; a failing read leaves it empty", async () => {
    const registry = new MetricsRegistry({ defaultMetrics: false });
    let pending = 7;
    let fail = false;
    registry.collectedGauge({ name: "bus_lag", help: "Lag.", labelNames: ["group"] }, async () => {
      if (fail) throw new Error("broker away");
      return [{ labels: { group: "trainer" }, value: pending }];
    });
    expect(await registry.metrics()).toContain('bus_lag{group="trainer"} 7');
    pending = 2;
    expect(await registry.metrics()).toContain('bus_lag{group="trainer"} 2');
    fail = true;
    expect(await registry.metrics()).not.toContain('bus_lag{group="trainer"}');
  });
});
