/**
 * Self-signed certificates for TLS tests, made with `openssl` when it is installed.
 *
 * @module
 */

/** True when `openssl` can be run. */
export async function hasOpenssl(): Promise<boolean> {
  try {
    return (await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/**
 * Writes `<dir>/<name>.pem` and `<dir>/<name>.key`: a one-day self-signed certificate for
 * `localhost` and 127.0.0.1.
 *
 * @example
 * ```ts
 * const { certFile, keyFile } = await makeSelfSignedCert(await Deno.makeTempDir(), "server");
 * ```
 */
export async function makeSelfSignedCert(
  dir: string,
  name: string,
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = `${dir}/${name}.pem`;
  const keyFile = `${dir}/${name}.key`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error("openssl could not make a certificate");
  return { certFile, keyFile };
}
