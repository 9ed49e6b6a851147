import { WebhookUrlError } from "./errors.js";
import { checkAddress, checkUrlForm, guardedLookup, resolveChecked } from "./url-policy.js";

const strict = { allowHttpHosts: [] };
const local = { allowHttpHosts: ["127.0.0.1", "localhost"] };

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof WebhookUrlError ? error.code : `not a WebhookUrlError: ${String(error)}`;
  }
}

describe("webhook URL rules", () => {
  it("wants https unless the host is allowed for local delivery", () => {
    expect(codeOf(() => checkUrlForm("http://hooks.example.com/x", strict))).toBe("HttpsRequired");
    expect(codeOf(() => checkUrlForm("http://127.0.0.1:9000/x", strict))).toBe("HttpsRequired");
    expect(codeOf(() => checkUrlForm("http://127.0.0.1:9000/x", local))).toBeUndefined();
    expect(codeOf(() => checkUrlForm("https://hooks.example.com/x", strict))).toBeUndefined();
    expect(codeOf(() => checkUrlForm("ftp://hooks.example.com/x", strict))).toBe("InvalidUrl");
    expect(codeOf(() => checkUrlForm("/relative", strict))).toBe("InvalidUrl");
  });

  it("never calls link-local or cloud metadata addresses, in any spelling", () => {
    for (const address of ["169.254.169.254", "169.254.0.1", "100.100.100.200", "fe80::1", "febf::1", "fd00:ec2::254", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "0.0.0.0"]) {
      expect([address, codeOf(() => checkAddress("h", address, local))]).toEqual([address, "AddressNotAllowed"]);
    }
    for (const url of ["https://metadata.google.internal/", "https://METADATA.google.internal./", "https://[fd00:ec2::254]/", "https://169.254.169.254/"]) {
      expect([url, codeOf(() => checkUrlForm(url, local))]).toEqual([url, "AddressNotAllowed"]);
    }
    expect(codeOf(() => checkAddress("h", "10.1.2.3", strict))).toBeUndefined();
    expect(codeOf(() => checkAddress("h", "2001:db8::1", strict))).toBeUndefined();
  });

  it("allows loopback only to hosts allowed for local delivery", () => {
    expect(codeOf(() => checkAddress("evil.example", "127.0.0.1", local))).toBe("AddressNotAllowed");
    expect(codeOf(() => checkAddress("evil.example", "::1", local))).toBe("AddressNotAllowed");
    expect(codeOf(() => checkAddress("localhost", "127.0.0.1", local))).toBeUndefined();
  });

  it("checks what a name resolves to, at registration and in the lookup the connection itself uses", async () => {
    await expect(resolveChecked(new URL("https://localhost/"), strict)).rejects.toMatchObject({ code: "AddressNotAllowed" });
    await expect(resolveChecked(new URL("https://localhost/"), local)).resolves.toEqual(expect.arrayContaining([expect.objectContaining({ address: expect.any(String) })]));
    const lookup = guardedLookup(strict);
    const refused = await new Promise<unknown>((resolve) => lookup("localhost", { all: true }, (error) => resolve(error)));
    expect(refused).toBeInstanceOf(WebhookUrlError);
    const allowed = await new Promise<unknown>((resolve) => guardedLookup(local)("localhost", {}, (error, address) => resolve(error ?? address)));
    expect(allowed).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});
