// A real OpenID provider (the `oidc-provider` package) for Heard's single sign-on tests.
//
//   node server.mjs --redirect-uri http://127.0.0.1:8123/auth/oidc/callback
//
// Listens on a free loopback port and prints one JSON line: {"issuer": "http://127.0.0.1:PORT"}.
// One client is registered for Heard (client id "heard", secret "heard-test-secret").
// Its built-in login screen (devInteractions) accepts any password; the login name is the
// account, and the `email` claim is that login name (see findAccount for other accounts).
import Provider from "oidc-provider";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const redirectUri = arg("--redirect-uri");
const clientId = arg("--client-id", "heard");
const clientSecret = arg("--client-secret", "heard-test-secret");
if (!redirectUri) {
  console.error("usage: node server.mjs --redirect-uri URL");
  process.exit(2);
}

const http = await import("node:http");
const probe = http.createServer();
await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
const port = probe.address().port;
await new Promise((resolve) => probe.close(resolve));
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ["heard-test-provider-cookie-key-0123456789"] },
  // A login "tag|name@example.org" is another account (its own `sub`) with that email:
  // tag "unverified" says email_verified: false, "unchecked" leaves email_verified out.
  async findAccount(ctx, id) {
    const [tag, email] = id.includes("|") ? id.split("|", 2) : ["", id];
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, email, name: email.split("@")[0] };
        if (tag !== "unchecked") claims.email_verified = tag !== "unverified";
        return claims;
      },
    };
  },
});
provider.proxy = false;

const server = provider.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ issuer }) + "\n");
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Stop by itself if the test that started it goes away.
process.stdin.on("end", stop);
process.stdin.resume();
