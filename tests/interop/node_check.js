#!/usr/bin/env node
/*
 * node_check.js - the @node-saml/node-saml peer of the Lanyard interop suite.
 *
 * Owns: validating SAML Responses with node-saml exactly as a Node SP would
 * (SAML#validatePostResponseAsync with the pinned IdP certificate). It makes
 * no pass/fail decision itself: check_responses.py calls it and compares the
 * outcome with the case's expectation.
 *
 * Usage: node node_check.js JOBS.json
 *   JOBS.json = [{"name", "saml_response_b64", "idp_cert_pem", "idp_entity_id", "sp_entity_id",
 *                 "acs_url", "want_assertions_signed", "want_response_signed"}]
 * Prints one JSON object per job on stdout:
 *   {"name", "ok": true|false, "error": "<message>"|null, "name_id": ..., "attributes": {...}}
 * Exit status: 0 when every job was run (accepted or rejected), 2 on a usage
 * or setup error.
 */
"use strict";

const fs = require("fs");
const path = require("path");

let SAML;
try {
  // node_modules lives in tests/interop/node/ (installed by setup.sh).
  ({ SAML } = require(path.join(__dirname, "node", "node_modules", "@node-saml", "node-saml")));
} catch (e) {
  process.stderr.write(`node_check.js: cannot load @node-saml/node-saml (run tests/interop/setup.sh): ${e.message}\n`);
  process.exit(2);
}

async function checkOne(job) {
  const saml = new SAML({
    idpCert: job.idp_cert_pem, // pinned certificate; KeyInfo in the message is not trusted
    issuer: job.sp_entity_id,
    idpIssuer: job.idp_entity_id, // also check the Response/Assertion Issuer
    audience: job.sp_entity_id,
    callbackUrl: job.acs_url,
    wantAssertionsSigned: job.want_assertions_signed,
    wantAuthnResponseSigned: job.want_response_signed,
    validateInResponseTo: "never", // IdP-initiated: no InResponseTo
    acceptedClockSkewMs: 0,
  });
  try {
    const { profile, loggedOut } = await saml.validatePostResponseAsync({
      SAMLResponse: job.saml_response_b64,
    });
    if (loggedOut || !profile) {
      return { name: job.name, ok: false, error: "node-saml returned no profile", name_id: null };
    }
    return { name: job.name, ok: true, error: null, name_id: profile.nameID ?? null, attributes: profile.attributes ?? {} };
  } catch (e) {
    return { name: job.name, ok: false, error: String(e && e.message ? e.message : e), name_id: null };
  }
}

async function main() {
  if (process.argv.length !== 3) {
    process.stderr.write("usage: node node_check.js JOBS.json\n");
    process.exit(2);
  }
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  for (const job of jobs) {
    process.stdout.write(JSON.stringify(await checkOne(job)) + "\n");
  }
}

main().catch((e) => {
  process.stderr.write(`node_check.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
