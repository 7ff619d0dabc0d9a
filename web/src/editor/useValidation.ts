// Validation as you type: the config is sent to POST /api/v1/tasks/validate a moment after the
// last keystroke (the same checks as saving, nothing stored), and the field errors it answers
// replace the previous ones. An answer that arrives after a newer request is dropped.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type FieldError, post } from "../api";

const DEBOUNCE_MS = 350;

export function useValidation(config: unknown, task: string | undefined) {
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [checking, setChecking] = useState(false);
  const latest = useRef(0);
  const body = JSON.stringify(config);
  useEffect(() => {
    const id = ++latest.current;
    const timer = setTimeout(async () => {
      setChecking(true);
      try {
        const query = task ? `?task=${encodeURIComponent(task)}` : "";
        await post(`/tasks/validate${query}`, JSON.parse(body));
        if (id === latest.current) setErrors([]);
      } catch (e) {
        if (id === latest.current && e instanceof ApiError && e.status === 422) setErrors(e.fields);
      } finally {
        if (id === latest.current) setChecking(false);
      }
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [body, task]);
  return { errors, checking, setErrors };
}
