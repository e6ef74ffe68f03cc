import { scriptedLogin } from '@baton/demo-idp';

/**
 * The person at the approval page, scripted for `npm start`: opens the page the agent was sent to,
 * signs in at the IdP through its forms (as a browser would, with `scriptedLogin`), reads what is
 * asked, and presses Approve. The demo's browser test does the same in a real Chromium.
 *
 * @example
 * await runAgent(url, credentials, plan, say, { approve: approveAs(credentials, say) });
 */
export function approveAs(
  credentials: { username: string; password: string },
  say: (line: string) => void = () => {},
): (url: string) => Promise<void> {
  return async (url) => {
    say(`${credentials.username} opens the approval page ${url}`);
    const start = await fetch(url, { redirect: 'manual' });
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (start.status !== 303 || !location) throw new Error(`the approval page answered ${start.status}`);
    const cookie = start.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    const callback = await scriptedLogin(location, credentials);
    const review = await fetch(new URL(callback.pathname + callback.search, url), { headers: { cookie } });
    const html = await review.text();
    const token = /name="form_token" value="([^"]+)"/.exec(html)?.[1];
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (review.status !== 200 || !token || !action)
      throw new Error(`the approval page answered ${review.status}`);
    const input = /<pre id="input">([\s\S]*?)<\/pre>/.exec(html)?.[1]?.replace(/\s+/g, ' ') ?? '';
    say(
      `${credentials.username} signed in and sees the request: ${input.replaceAll('&#34;', '"')}; approves`,
    );
    const answered = await fetch(new URL(action, url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
      body: new URLSearchParams({ form_token: token, decision: 'approve' }),
    });
    await answered.body?.cancel();
    if (answered.status !== 200) throw new Error(`the approval was not recorded (${answered.status})`);
  };
}
