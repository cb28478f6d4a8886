// The password-reset flow as a person lives it: forgotten password, the mailed link opened in a browser, a refused
// password then a good one, signing in with the new one only, and the link spent.
//
//   USERS_SERVER_BIN=target/debug/users-server node e2e/reset_password.mjs

import { check, expectText, openPage, run, uniqueEmail, withoutQuery } from './support.mjs';

const OLD_PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new staple 42';
const CHANGED = 'Your password has been changed. You can now sign in with it.';
const INVALID_LINK = 'This link is invalid, already used or expired. Ask for a new one.';

await run('reset_password', async ({ server, context }) => {
  const email = uniqueEmail('reset');
  const registered = await server.call('POST', '/auth/register', { body: { email, password: OLD_PASSWORD } });
  check(registered.status === 201, 'POST /auth/register answers 201', `${registered.status} ${registered.text}`);
  const forgot = await server.call('POST', '/auth/password/forgot', { body: { email } });
  check(forgot.status === 202, 'POST /auth/password/forgot answers 202', `${forgot.status} ${forgot.text}`);

  const link = await server.mailedLink(email, '/reset-password');
  check(link.startsWith(`${server.base}/reset-password?token=`), "the reset mail links to the service's own page",
    withoutQuery(link));

  const page = await context.newPage();
  const resetCalls = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/auth/password/reset') {
      resetCalls.push(request);
    }
  });
  await openPage(page, link, 'Choose a new password');
  const form = page.locator('#reset-password-form');
  const password = page.getByLabel('New password', { exact: true });
  const repeat = page.getByLabel('Repeat the new password');
  const submit = page.getByRole('button', { name: 'Change my password' });
  check(await password.getAttribute('autocomplete') === 'new-password', 'the password field asks for a new password');
  const hint = await page.locator('#password-hint').textContent();
  check(hint.includes('At least 8 characters'), 'the hint states the minimum length', hint);

  await password.fill(NEW_PASSWORD);
  await repeat.fill(`${NEW_PASSWORD}!`);
  await submit.click();
  const mismatch = await page.locator('#password-repeat-error').textContent();
  check(/differ/.test(mismatch), 'two different passwords are refused in the page', mismatch);
  check(resetCalls.length === 0, 'and nothing is sent for them', `${resetCalls.length} request(s)`);

  await password.fill('password');
  await repeat.fill('password');
  await submit.click();
  const passwordError = page.locator('#password-error');
  await passwordError.waitFor();
  const weakStatus = await resetCalls[0]?.response().then((response) => response?.status());
  check(resetCalls.length === 1 && weakStatus === 422, 'a common password is sent and refused with 422',
    `${resetCalls.length} request(s), status ${weakStatus}`);
  const refusal = await passwordError.textContent();
  check(/commonly used/.test(refusal), `the refusal is shown next to the field: "${refusal}"`);
  check(await form.isVisible(), 'the form stays for another try');

  await password.fill(NEW_PASSWORD);
  await repeat.fill(NEW_PASSWORD);
  await submit.click();
  await expectText(page, CHANGED, 'a good password is accepted');
  check(!(await form.isVisible()), 'the form is gone');

  const signIn = await server.call('POST', '/auth/login', { body: { email, password: NEW_PASSWORD } });
  check(signIn.status === 200 && typeof signIn.json?.access_token === 'string', 'the new password signs in',
    `${signIn.status}`);
  const oldSignIn = await server.call('POST', '/auth/login', { body: { email, password: OLD_PASSWORD } });
  check(oldSignIn.status === 401, 'the old password is refused with 401', `${oldSignIn.status}`);

  await openPage(page, link, 'Choose a new password');
  await password.fill('another fine passphrase');
  await repeat.fill('another fine passphrase');
  await submit.click();
  await expectText(page, INVALID_LINK, 'the link, once used, is refused');
  check(!(await form.isVisible()), 'and the form is gone');
  const stillNew = await server.call('POST', '/auth/login', { body: { email, password: NEW_PASSWORD } });
  check(stillNew.status === 200, 'the spent link changed nothing: the new password still signs in',
    `${stillNew.status}`);

  await openPage(page, `${server.base}/reset-password`, 'Choose a new password');
  await expectText(page, INVALID_LINK, 'a link without a token is called invalid at once');
  check(!(await form.isVisible()), 'with no form');
});
