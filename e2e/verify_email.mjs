// The address-verification flow as a person lives it: sign up, open the mailed link in a browser, confirm with the
// button (opening the link alone spends nothing: mail scanners open links), and the profile then says verified.
//
//   USERS_SERVER_BIN=target/debug/users-server node e2e/verify_email.mjs

import { setTimeout as sleep } from 'node:timers/promises';

import { check, expectText, openPage, run, uniqueEmail, withoutQuery } from './support.mjs';

const PASSWORD = 'correct horse battery';
const INVALID_LINK = 'This link is invalid, already used or expired. Ask for a new one.';

await run('verify_email', async ({ server, context }) => {
  const email = uniqueEmail('verify');
  const registered = await server.call('POST', '/auth/register', { body: { email, password: PASSWORD } });
  check(registered.status === 201, 'POST /auth/register answers 201', `${registered.status} ${registered.text}`);
  const signedUp = registered.json.access_token;
  const before = await server.call('GET', '/users/current', { token: signedUp });
  check(before.json?.email_verified === false, 'a new account is unverified',
    `email_verified ${before.json?.email_verified}`);

  const link = await server.mailedLink(email, '/verify-email');
  check(link.startsWith(`${server.base}/verify-email?token=`), "the sign-up mail links to the service's own page",
    withoutQuery(link));

  const page = await context.newPage();
  const confirmCalls = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/auth/verification/confirm') {
      confirmCalls.push(request);
    }
  });
  await openPage(page, link, 'Confirm your email address');
  const button = page.getByRole('button', { name: 'Confirm my address' });
  check(await button.isVisible(), 'the page offers the "Confirm my address" button');
  // Long enough for a script that spent the token on load to have done so.
  await sleep(1_000);
  const unconfirmed = await server.call('GET', '/users/current', { token: signedUp });
  const spentOnLoad = confirmCalls.length > 0 || unconfirmed.json?.email_verified !== false;
  check(!spentOnLoad, 'opening the link alone spends nothing',
    `${confirmCalls.length} request(s), email_verified ${unconfirmed.json?.email_verified}`);

  await button.click();
  await expectText(page, `Your address ${email} is verified.`, 'the button confirms the address');
  const confirmStatus = await confirmCalls[0]?.response().then((response) => response?.status());
  check(confirmCalls.length === 1 && confirmStatus === 200, 'with one POST, answered 200',
    `${confirmCalls.length} request(s), status ${confirmStatus}`);
  check(!(await button.isVisible()), 'the button is gone');

  const signIn = await server.call('POST', '/auth/login', { body: { email, password: PASSWORD } });
  check(signIn.status === 200, 'the account signs in', `${signIn.status}`);
  const after = await server.call('GET', '/users/current', { token: signIn.json.access_token });
  check(after.status === 200 && after.json?.email_verified === true, 'GET /users/current says email_verified: true',
    `${after.status}, email_verified ${after.json?.email_verified}`);

  await openPage(page, link, 'Confirm your email address');
  await button.click();
  await expectText(page, INVALID_LINK, 'the link, once used, is refused');
  check(!(await button.isVisible()), 'and the button is gone');

  await openPage(page, `${server.base}/verify-email`, 'Confirm your email address');
  await expectText(page, INVALID_LINK, 'a link without a token is called invalid at once');
  check(!(await button.isVisible()), 'with no button');
});
