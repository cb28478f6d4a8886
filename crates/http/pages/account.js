// The script of the account pages, /reset-password and /verify-email: it reads the one-time token from the link,
// spends it only when the person asks (mail scanners open links, and must not use the token up), and says what the
// API answered. A file of its own, because the pages' Content-Security-Policy allows no inline script. It never
// writes the token or the password anywhere but the request body.
'use strict';

(() => {
  const INVALID_LINK = 'This link is invalid, already used or expired. Ask for a new one.';
  const PASSWORD_CHANGED = 'Your password has been changed. You can now sign in with it.';
  const GENERIC_ERROR = 'Something went wrong on our side. Please try again in a moment.';
  const UNREACHABLE = 'The service could not be reached. Check your connection and try again.';

  const token = new URLSearchParams(window.location.search).get('token');
  const outcome = document.getElementById('outcome');

  /** Shows `message` in the page's outcome area; `kind` is `success` or `error`. */
  function show(message, kind) {
    outcome.textContent = message;
    outcome.className = `outcome ${kind}`;
    // An alert is announced at once; a status when the reader is idle.
    outcome.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    outcome.hidden = false;
  }

  function clearOutcome() {
    outcome.hidden = true;
    outcome.textContent = '';
  }

  /** Ends the flow: the controls go, and focus moves to the message so that it is read next. */
  function finish(controls, message, kind) {
    controls.hidden = true;
    show(message, kind);
    outcome.focus();
  }

  /** The message under `input` (its element is `<input id>-error`), and the input marked invalid. */
  function showFieldError(input, message) {
    const error = document.getElementById(`${input.id}-error`);
    error.textContent = message;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }

  function clearFieldError(input) {
    const error = document.getElementById(`${input.id}-error`);
    error.textContent = '';
    error.hidden = true;
    input.removeAttribute('aria-invalid');
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    button.setAttribute('aria-busy', String(busy));
  }

  /**
   * POSTs `body` as JSON to `path` (relative, so that a service mounted under a prefix still reaches its own API),
   * and resolves to the status, the headers and the JSON body if there is one. Rejects when nothing answered.
   */
  async function post(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page): the status alone decides.
    }
    return { status: response.status, headers: response.headers, json };
  }

  function isInvalidToken(answer) {
    return answer.status === 400 && typeof answer.json?.type === 'string' && answer.json.type.endsWith('invalid-token');
  }

  /** The 429 message, with the wait `Retry-After` gives (seconds, or an HTTP date). */
  function tooManyAttempts(answer) {
    const retryAfter = answer.headers.get('retry-after') ?? '';
    let seconds = /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : NaN;
    if (Number.isNaN(seconds)) {
      seconds = Math.ceil((Date.parse(retryAfter) - Date.now()) / 1000);
    }
    return Number.isFinite(seconds) && seconds > 0
      ? `Too many attempts; try again in ${seconds} second${seconds === 1 ? '' : 's'}.`
      : 'Too many attempts; try again in a moment.';
  }

  /** The reply to anything but the outcomes a page handles itself. */
  function showFailure(answer) {
    show(answer.status === 429 ? tooManyAttempts(answer) : GENERIC_ERROR, 'error');
  }

  function resetPassword() {
    const form = document.getElementById('reset-password-form');
    if (!token) {
      finish(form, INVALID_LINK, 'error');
      return;
    }
    const password = document.getElementById('password');
    const repeat = document.getElementById('password-repeat');
    const button = form.querySelector('button[type="submit"]');
    const minChars = Number(password.getAttribute('minlength'));

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearOutcome();
      clearFieldError(password);
      clearFieldError(repeat);
      // Counted in characters, as the service counts them, not in UTF-16 units.
      if ([...password.value].length < minChars) {
        showFieldError(password, `The new password must be at least ${minChars} characters.`);
        password.focus();
        return;
      }
      if (repeat.value !== password.value) {
        showFieldError(repeat, 'The two passwords differ. Type the same password twice.');
        repeat.focus();
        return;
      }

      setBusy(button, true);
      let answer;
      try {
        answer = await post('auth/password/reset', { token, password: password.value });
      } catch {
        show(UNREACHABLE, 'error');
        return;
      } finally {
        setBusy(button, false);
      }

      if (answer.status === 204) {
        password.value = '';
        repeat.value = '';
        finish(form, PASSWORD_CHANGED, 'success');
      } else if (answer.status === 422) {
        // The token is still good: the form stays for another try.
        showRefusedFields(answer.json, password);
      } else if (isInvalidToken(answer)) {
        finish(form, INVALID_LINK, 'error');
      } else {
        showFailure(answer);
      }
    });
  }

  /** A 422's field errors: those about the password under it, any other in the outcome area. */
  function showRefusedFields(problem, password) {
    const errors = Array.isArray(problem?.errors) ? problem.errors : [];
    const others = [];
    for (const { field, message } of errors) {
      if (field === 'password') {
        showFieldError(password, `The new password ${message}.`);
      } else {
        others.push(`${field}: ${message}.`);
      }
    }
    if (others.length > 0 || errors.length === 0) {
      show(others.length > 0 ? others.join(' ') : (problem?.detail ?? GENERIC_ERROR), 'error');
    }
    password.focus();
  }

  function verifyEmail() {
    const controls = document.getElementById('verify-email');
    if (!token) {
      finish(controls, INVALID_LINK, 'error');
      return;
    }
    const button = document.getElementById('confirm');

    button.addEventListener('click', async () => {
      clearOutcome();
      setBusy(button, true);
      let answer;
      try {
        answer = await post('auth/verification/confirm', { token });
      } catch {
        show(UNREACHABLE, 'error');
        return;
      } finally {
        setBusy(button, false);
      }

      if (answer.status === 200) {
        const email = answer.json?.email;
        const verified = typeof email === 'string' ? `Your address ${email} is verified.` : 'Your address is verified.';
        finish(controls, verified, 'success');
      } else if (isInvalidToken(answer)) {
        finish(controls, INVALID_LINK, 'error');
      } else {
        showFailure(answer);
      }
    });
  }

  const pages = { 'reset-password': resetPassword, 'verify-email': verifyEmail };
  pages[document.body.dataset.page]?.();
})();
