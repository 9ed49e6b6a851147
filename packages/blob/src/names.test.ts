import { InvalidBlobNameError } from "./errors.js";
import { normalizeMetadata, validateBlobName, validateBlobPrefix } from "./names.js";

describe("validateBlobName", () => {
  it.each([
    ["a plain name", "a"],
    ["nested segments", "a/b/c.csv"],
    ["spaces", "models/run 1/model.bin"],
    ["non-ASCII", "ünïcødé/😀"],
    ["a '...' segment", "..."],
    ["a dot-file segment", "a/.hidden"],
    ["1024 characters", "x".repeat(1024)],
  ])("accepts %s", (_label, name) => {
    expect(() => validateBlobName(name)).not.toThrow();
  });

  it.each([
    ["the empty string", "", /empty/],
    ["a leading slash", "/abs", /relative/],
    ["an empty segment", "a//b", /empty segment/],
    ["a trailing slash", "a/", /empty segment/],
    ["a '..' segment", "../x", /'\.\.' segment/],
    ["a '.' segment", "a/./b", /'\.' segment/],
    ["a backslash", "a\\b", /backslash/],
    ["NUL", "a\u0000b", /U\+0000/],
    ["U+001F", "a\u001fb", /U\+001f/],
    ["DEL", "a\u007fb", /U\+007f/],
    ["a newline", "a\nb", /control/],
    ["1025 characters", "x".repeat(1025), /at most 1024/],
    ["a lone surrogate", "bad\ud800", /lone surrogate/],
  ])("rejects %s, naming the problem", (_label, name, problem) => {
    let error: unknown;
    try {
      validateBlobName(name);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidBlobNameError);
    expect(error).toMatchObject({ code: "InvalidName", blobName: name, name: "InvalidBlobNameError" });
    expect((error as Error).message).toMatch(problem);
  });
});

describe("validateBlobPrefix", () => {
  it.each(["", "a", "a/", "a/b", "a/.", "jobs/2024-"])("accepts %j", (prefix) => {
    expect(() => validateBlobPrefix(prefix)).not.toThrow();
  });
  it.each(["/a", "../", "a//", "a\\", "a\u0001"])("rejects %j", (prefix) => {
    expect(() => validateBlobPrefix(prefix)).toThrow(InvalidBlobNameError);
  });
});

describe("normalizeMetadata", () => {
  it("lowercases keys as Azure returns them", () => {
    expect(normalizeMetadata("b", { RunId: "r1", stage_2: "x" })).toEqual({ runid: "r1", stage_2: "x" });
  });
  it.each([
    [{ "has-dash": "v" }],
    [{ "1st": "v" }],
    [{ k: "non-ascii é" }],
    [{ k: " padded" }],
    [{ Key: "a", key: "b" }],
  ])("rejects %j", (metadata) => {
    expect(() => normalizeMetadata("b", metadata)).toThrow(expect.objectContaining({ code: "InvalidName", blobName: "b" }));
  });
  it("keeps a __proto__ key as data", () => {
    const result = normalizeMetadata("b", JSON.parse('{"__proto__":"x"}') as Record<string, string>);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.keys(result)).toEqual(["__proto__"]);
  });
});
