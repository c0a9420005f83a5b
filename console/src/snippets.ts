/** What the playground would send, as commands to paste elsewhere (the key comes from the environment). */

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function curlCommand(origin: string, body: object): string {
  return [
    `curl -N ${origin}/v1/messages`,
    `  -H "x-api-key: $ANTHROPIC_API_KEY"`,
    `  -H "anthropic-version: 2023-06-01"`,
    `  -H "content-type: application/json"`,
    `  -d ${shellQuote(JSON.stringify({ ...body, stream: true }))}`,
  ].join(" \\\n");
}

export function sdkSnippet(origin: string, body: object): string {
  const params = JSON.stringify(body, null, 2).replace(/\n/g, "\n");
  return `import Anthropic from "@anthropic-ai/sdk";

// Reads ANTHROPIC_API_KEY from the environment.
const client = new Anthropic({ baseURL: ${JSON.stringify(origin)} });

const stream = client.messages.stream(${params});
stream.on("text", (text) => process.stdout.write(text));
const message = await stream.finalMessage();
console.log("\\n", message.usage);
`;
}
