// The showcase's only script file: the live feed (EventSource) and the chat (WebSocket).
// Served from 'self', so the Content-Security-Policy allows it without a nonce.
// Text from the server is always set with textContent, never parsed as HTML.
"use strict";

function item(who, text) {
  const li = document.createElement("li");
  if (who) {
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    li.append(name);
  }
  li.append(document.createTextNode(text));
  return li;
}

function startFeed(list) {
  // EventSource reconnects by itself (the server asks for a 2 s retry); the
  // status line says when the feed is live, lost, and back.
  const status = document.getElementById("feed-status");
  let lost = false;
  const source = new EventSource(list.dataset.url);
  source.addEventListener("error", () => {
    lost = true;
    status.textContent = "Connection lost: reconnecting…";
    status.dataset.state = "reconnecting";
  });
  source.addEventListener("note", (event) => {
    const note = JSON.parse(event.data);
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = "/notes/" + encodeURIComponent(note.id);
    link.textContent = note.title;
    li.className = "feed-note";
    li.append("New note: ", link);
    list.prepend(li);
  });
  source.addEventListener("ready", () => {
    list.setAttribute("data-ready", "1");
    status.textContent = lost ? "Reconnected: live again." : "Live.";
    status.dataset.state = lost ? "reconnected" : "live";
  });
}

function startChat(log) {
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const status = document.getElementById("chat-status");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + log.dataset.url);
  socket.addEventListener("close", () => { status.textContent = "disconnected"; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      // Sent once the server listens to the room: from now on nothing is missed.
      status.textContent = "connected";
      return;
    }
    log.append(item(message.user, message.text));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value && socket.readyState === WebSocket.OPEN) {
      socket.send(input.value);
      input.value = "";
    }
  });
}

// junco's CSRF tokens travel in the X-CSRF-Token header for multipart bodies (it
// does not parse uploads before the handler runs), so file forms are sent with fetch.
function sendMultipart(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = form.querySelector("input[name=csrf_token]");
    const problem = form.querySelector(".form-error") || document.createElement("p");
    problem.className = "error form-error";
    problem.setAttribute("role", "alert");
    problem.textContent = "";
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: token ? { "X-CSRF-Token": token.value } : {},
    });
    if (response.ok) {
      location.assign(response.url);
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const shown = page.querySelector(".error");
    problem.textContent = shown ? shown.textContent : response.status + " " + response.statusText;
    form.prepend(problem);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[enctype='multipart/form-data']")) {
    sendMultipart(form);
  }
  const feed = document.getElementById("feed");
  if (feed) startFeed(feed);
  const log = document.getElementById("chat-log");
  if (log) startChat(log);
});
