// Opens a WebSocket to /ws on this page's server and shows what is sent and echoed.
const status = document.getElementById("status");
const log = document.getElementById("log");
const form = document.getElementById("send");
const input = document.getElementById("text");

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${scheme}//${location.host}/ws`);

function show(direction, text) {
  const item = document.createElement("li");
  item.className = direction;
  item.textContent = `${direction === "sent" ? "→" : "←"} ${text}`;
  log.append(item);
}

socket.onopen = () => status.textContent = "open";
socket.onclose = (event) => status.textContent = `closed (${event.code})`;
socket.onerror = () => status.textContent = "error";
socket.onmessage = (event) => show("received", event.data);

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (input.value === "" || socket.readyState !== WebSocket.OPEN) return;
  socket.send(input.value);
  show("sent", input.value);
  input.value = "";
});
