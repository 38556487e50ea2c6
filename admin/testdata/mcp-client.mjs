// An MCP session with the TypeScript SDK, a client independent of the Go
// one: list the tools, send a command, read its aggregate, meet a domain
// error, and be refused without credentials. Prints what it saw as JSON.
//
//   node mcp-client.mjs URL TOKEN
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token] = process.argv.slice(2);
const out = {};
const client = new Client({ name: "fluvius-ts-test", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
}));
out.tools = (await client.listTools()).tools.map((t) => t.name);
const created = await client.callTool({
  name: "user.create-user",
  arguments: { payload: { email: "tess@example.com", name: "Tess" } },
});
out.created = created.structuredContent;
const read = await client.readResource({ uri: `fluvius://user/user/${created.structuredContent.id}` });
out.state = JSON.parse(read.contents[0].text);
const bad = await client.callTool({
  name: "user.create-user",
  arguments: { payload: { email: "not-an-address", name: "X" } },
});
out.error = { isError: bad.isError === true, code: bad.structuredContent?.code };
await client.close();
try {
  const anonymous = new Client({ name: "anonymous", version: "1.0.0" });
  await anonymous.connect(new StreamableHTTPClientTransport(new URL(url)));
  out.anonymous = "connected";
} catch (e) {
  out.anonymous = String(e);
}
console.log(JSON.stringify(out));
