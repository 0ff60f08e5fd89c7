import assert from "node:assert/strict";
import { ScramClient, ScramError } from "../src/connection/scram.ts";
import { specDir } from "./support/shared.ts";

// The SCRAM-SHA-256 example exchange of RFC 7677, section 3.
const serverFirst =
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

Deno.test("ScramClient: the RFC 7677 exchange, server signature verified", async () => {
  const scram = new ScramClient("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  assert.equal(scram.clientFirst(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  assert.equal(
    await scram.clientFinal(serverFirst),
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  );
  scram.verifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
});

Deno.test("ScramClient: a wrong server signature or a foreign nonce is refused", async () => {
  const scram = new ScramClient("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  await scram.clientFinal(serverFirst);
  assert.throws(
    () => scram.verifyServerFinal("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
    ScramError,
  );
  const other = new ScramClient("user", "pencil", "someOtherNonce");
  await assert.rejects(() => other.clientFinal(serverFirst), ScramError);
});

Deno.test("ScramClient: user names escape `,` and `=`", () => {
  assert.equal(new ScramClient("a,b=c", "", "n").clientFirst(), "n,,n=a=2Cb=3Dc,r=n");
});

Deno.test("ScramClient: reproduces the recorded RethinkDB 2.4.4 login of `admin` without password", async () => {
  const text = await Deno.readTextFile(new URL("wire/scenarios.jsonl", specDir()));
  const records = text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line))
    .filter((record) => record.conn === 1 && record.kind === "handshake");
  const [clientFirst, , serverFirst, clientFinal, serverFinal] = records.map((record) =>
    record.json.authentication as string
  );
  const nonce = clientFirst.slice(clientFirst.indexOf(",r=") + 3);
  const scram = new ScramClient("admin", "", nonce);
  assert.equal(scram.clientFirst(), clientFirst);
  assert.equal(await scram.clientFinal(serverFirst), clientFinal);
  scram.verifyServerFinal(serverFinal);
});
