// Sign in: JSON to /api/auth/login; the answer sets an HttpOnly session cookie.
"use strict";
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Requested-With": "fetch" },
      body: JSON.stringify(body),
    });
    if (response.ok) {
      window.location.assign("/");
      return;
    }
    const answer = await response.json().catch(() => ({}));
    error.textContent = (answer.error && answer.error.message) || `sign-in failed (${response.status})`;
  } catch (exc) {
    error.textContent = `the console did not answer: ${exc}`;
  }
});
