import type { ChampionOutcome } from "./evaluation.js";
import { describeForApproval, formatMetric, judge } from "./policy.js";

const served = (target: string, metrics: Record<string, number>): ChampionOutcome => ({ target, status: "served", modelId: "m", revision: 1, metrics });

describe("policy: the decision rules", () => {
  it("words an approval as the catalog's example does", () => {
    const verdict = judge(
      { mode: "automatic", primaryMetric: "AUC", threshold: 0.7, minGain: { kind: "absolute", value: 0.002 } },
      { AUC: 0.912 },
      [served("classic:ws/s/e", { AUC: 0.897 })],
    );
    expect(verdict).toEqual({ approved: true, reason: "AUC 0.912 ≥ threshold 0.7 and beats the champion's 0.897 by 0.015 (≥ 0.002)" });
  });

  it("rejects below the threshold even without a champion", () => {
    const verdict = judge({ mode: "automatic", primaryMetric: "AUC", threshold: 0.7 }, { AUC: 0.681 }, [{ target: "t", status: "none" }]);
    expect(verdict.approved).toBe(false);
    expect(verdict.reason).toBe("AUC 0.681 < threshold 0.7 and no champion yet");
  });

  it("rejects a gain smaller than minGain", () => {
    const verdict = judge({ mode: "automatic", primaryMetric: "Accuracy", minGain: { kind: "absolute", value: 0.01 } }, { Accuracy: 0.805 }, [served("t", { Accuracy: 0.8 })]);
    expect(verdict.approved).toBe(false);
    expect(verdict.reason).toContain("does not beat the champion's 0.8 by 0.01 (gain 0.005)");
  });

  it("flips the direction for lower-is-better metrics (threshold and gain)", () => {
    const policy = { mode: "automatic" as const, primaryMetric: "Root Mean Squared Error" as const, threshold: 1, minGain: { kind: "relative" as const, value: 0.1 } };
    const better = judge(policy, { "Root Mean Squared Error": 0.5 }, [served("t", { "Root Mean Squared Error": 0.8 })]);
    expect(better).toEqual({ approved: true, reason: "Root Mean Squared Error 0.5 ≤ threshold 1 and beats the champion's 0.8 by 0.3 (37.5% ≥ 10%)" });
    const worse = judge(policy, { "Root Mean Squared Error": 0.9 }, [served("t", { "Root Mean Squared Error": 0.8 })]);
    expect(worse.approved).toBe(false);
    expect(worse.reason).toContain("does not beat");
    expect(judge(policy, { "Root Mean Squared Error": 1.2 }, []).reason).toBe("Root Mean Squared Error 1.2 > threshold 1");
  });

  it("with several targets approves only when every champion is beaten", () => {
    const policy = { mode: "automatic" as const, primaryMetric: "AUC" as const, minGain: { kind: "absolute" as const, value: 0 } };
    const verdict = judge(policy, { AUC: 0.9 }, [served("a", { AUC: 0.85 }), served("b", { AUC: 0.95 }), { target: "c", status: "none" }]);
    expect(verdict.approved).toBe(false);
    expect(verdict.reason).toBe("AUC 0.9, beats the champion's 0.85 on a by 0.05 (≥ 0), does not beat the champion's 0.95 on b by 0 (gain -0.05) and no champion yet on c");
  });

  it("rejects when the primary metric does not exist for the challenger (a regression model judged by AUC)", () => {
    const verdict = judge({ mode: "automatic", primaryMetric: "AUC" }, { "Root Mean Squared Error": 1 }, []);
    expect(verdict).toEqual({ approved: false, reason: "AUC could not be computed for the challenger on the holdout rows." });
  });

  it("words the approval request and formats numbers", () => {
    expect(describeForApproval("AUC", { AUC: 0.9 }, [served("t", { AUC: 0.8 })])).toBe("Manual approval required: AUC 0.9 vs the champion's 0.8 on t.");
    expect(formatMetric(0.00012345)).toBe("0.00012");
    expect(formatMetric(12.34567)).toBe("12.346");
  });
});
