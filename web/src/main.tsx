// The UI's entry: the login page until there is a session, then the top bar and the page the
// path names. The live stream runs while logged in.
import { render } from "preact";
import { useEffect } from "preact/hooks";
import "./styles.css";
import { TopBar } from "./components/TopBar";
import { History } from "./pages/History";
import { Login } from "./pages/Login";
import { Nodes } from "./pages/Nodes";
import { TaskEditor } from "./pages/TaskEditor";
import { TaskList } from "./pages/TaskList";
import { TaskPage } from "./pages/TaskPage";
import { path } from "./router";
import { isAdmin, session } from "./session";
import { useSignal } from "./signal";
import { startStream } from "./stream";

function Page({ at }: { at: string }) {
  const [route, search] = at.split("?");
  const parts = route.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "tasks" && parts[1] === "new" && parts.length === 2) return isAdmin() ? <TaskEditor /> : <TaskList />;
  if (parts[0] === "tasks" && parts.length === 3 && parts[2] === "edit") return isAdmin() ? <TaskEditor name={parts[1]} /> : <TaskPage name={parts[1]} />;
  if (parts[0] === "tasks" && parts.length === 2) return <TaskPage name={parts[1]} />;
  if (parts[0] === "nodes") return <Nodes />;
  if (parts[0] === "history") return <History task={new URLSearchParams(search ?? "").get("task")} />;
  return <TaskList />;
}

function App() {
  const user = useSignal(session);
  const at = useSignal(path);
  useEffect(() => {
    if (user) startStream();
  }, [user]);
  if (!user) return <Login />;
  return (
    <>
      <TopBar />
      <Page key={at} at={at} />
    </>
  );
}

render(<App />, document.getElementById("app")!);
