/** A test stack's Prometheus API over 127.0.0.1, with the stack's generated credentials (its outputs). */

type Outputs = Record<string, any>;

/** GET on Prometheus' API, with the stack's credentials unless `auth` is false; the body parsed when it is JSON. */
export async function prometheusGet(outputs: Outputs, pathAndQuery: string, auth = true): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Basic ${Buffer.from(`${outputs.credentials.prometheus.user}:${outputs.credentials.prometheus.password}`).toString("base64")}`;
  const res = await fetch(`http://127.0.0.1:${outputs.endpoints.prometheus.port}${pathAndQuery}`, { headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the 401 page)
  }
  return { status: res.status, body };
}

/** An instant query's series. */
export async function prometheusQuery(outputs: Outputs, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  return (await prometheusGet(outputs, `/api/v1/query?query=${encodeURIComponent(query)}`)).body.data.result;
}
