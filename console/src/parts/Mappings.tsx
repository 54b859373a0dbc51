import { useState } from "preact/hooks";
import type { v1FieldMappings, v1ValueRef } from "../api/client";
import { Button } from "../ui";

// The field mappings of a source as a form: for each usage-event field,
// where its value comes from (a JSONPath of the body, a header or a
// constant), and whether a webhook without it is rejected.

type Kind = "" | "jsonPath" | "header" | "constant";

const kinds: Array<[Kind, string]> = [
  ["", "Not mapped"],
  ["jsonPath", "JSONPath"],
  ["header", "Header"],
  ["constant", "Constant"],
];

const placeholders: Record<Kind, string> = {
  "": "",
  jsonPath: "$.data.object.customer",
  header: "X-Customer-Id",
  constant: "1",
};

export const mappingFields: Array<[keyof Omit<v1FieldMappings, "properties" | "batch">, string, string]> = [
  ["eventId", "Event id", "event_id"],
  ["eventType", "Event type", "event_type"],
  ["customerId", "Customer id", "customer_id"],
  ["quantity", "Quantity", "quantity"],
  ["timestamp", "Timestamp", "timestamp"],
];

function kindOf(r: v1ValueRef | undefined): Kind {
  if (!r) return "";
  if (r.jsonPath !== undefined) return "jsonPath";
  if (r.header !== undefined) return "header";
  if (r.constant !== undefined) return "constant";
  return "";
}

function valueOf(r: v1ValueRef | undefined): string {
  return r?.jsonPath ?? r?.header ?? r?.constant ?? "";
}

function RefRow(props: {
  id: string;
  label: string;
  value: v1ValueRef | undefined;
  onChange: (v: v1ValueRef | undefined) => void;
  error?: string;
  extra?: preact.ComponentChildren;
}) {
  const kind = kindOf(props.value);
  const set = (k: Kind, v: string, required: boolean) => props.onChange(k ? { [k]: v, ...(required ? { required: true } : {}) } : undefined);
  const errId = `${props.id}-error`;
  return (
    <fieldset class={`ref-row ${props.error ? "has-error" : ""}`} aria-describedby={props.error ? errId : undefined}>
      <legend>{props.label}</legend>
      {props.extra}
      <label class="sr-only" for={`${props.id}-kind`}>
        {props.label}: taken from
      </label>
      <select id={`${props.id}-kind`} value={kind} onChange={(e) => set((e.target as HTMLSelectElement).value as Kind, valueOf(props.value), !!props.value?.required)}>
        {kinds.map(([k, l]) => (
          <option key={k} value={k}>
            {l}
          </option>
        ))}
      </select>
      <label class="sr-only" for={props.id}>
        {props.label}: {kinds.find(([k]) => k === kind)?.[1] ?? "value"}
      </label>
      <input
        id={props.id}
        class="mono"
        value={valueOf(props.value)}
        disabled={!kind}
        placeholder={placeholders[kind]}
        spellcheck={false}
        aria-invalid={props.error ? true : undefined}
        onInput={(e) => set(kind, (e.target as HTMLInputElement).value, !!props.value?.required)}
      />
      <label class="inline-check">
        <input
          type="checkbox"
          checked={!!props.value?.required}
          disabled={!kind}
          onChange={(e) => set(kind, valueOf(props.value), (e.target as HTMLInputElement).checked)}
        />
        required
      </label>
      {props.error && (
        <p class="field-error" id={errId} role="alert">
          {props.error}
        </p>
      )}
    </fieldset>
  );
}

/** Edits field mappings; errorFor gives the API's complaint about a field path. */
export function MappingsEditor(props: {
  value: v1FieldMappings;
  onChange: (m: v1FieldMappings) => void;
  errorFor: (field: string) => string;
  idPrefix: string;
}) {
  const m = props.value;
  const props_ = Object.entries(m.properties ?? {});
  const [newName, setNewName] = useState("");
  const setProp = (name: string, v: v1ValueRef | undefined) => {
    const next = { ...(m.properties ?? {}) };
    if (v) next[name] = v;
    else delete next[name];
    props.onChange({ ...m, properties: next });
  };
  return (
    <div class="mappings">
      {mappingFields.map(([key, label, wire]) => (
        <RefRow
          key={key}
          id={`${props.idPrefix}-${wire}`}
          label={label}
          value={m[key]}
          error={props.errorFor(wire)}
          onChange={(v) => {
            const next = { ...m };
            if (v) next[key] = v;
            else delete next[key];
            props.onChange(next);
          }}
        />
      ))}
      {props_.map(([name, ref]) => (
        <RefRow
          key={`p-${name}`}
          id={`${props.idPrefix}-prop-${name}`}
          label={`Property “${name}”`}
          value={ref}
          error={props.errorFor(`properties[${name}]`) || props.errorFor(`properties.${name}`)}
          onChange={(v) => setProp(name, v ?? { jsonPath: "" })}
          extra={
            <button type="button" class="link-button remove" aria-label={`Remove property ${name}`} onClick={() => setProp(name, undefined)}>
              Remove
            </button>
          }
        />
      ))}
      <div class="add-property">
        <label for={`${props.idPrefix}-new-prop`}>Add a custom property</label>
        <div class="row">
          <input
            id={`${props.idPrefix}-new-prop`}
            value={newName}
            placeholder="plan"
            onInput={(e) => setNewName((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                if (newName.trim()) setProp(newName.trim(), { jsonPath: "" });
                setNewName("");
              }
            }}
          />
          <Button
            onClick={() => {
              if (newName.trim()) setProp(newName.trim(), { jsonPath: "" });
              setNewName("");
            }}
          >
            Add
          </Button>
        </div>
      </div>
    </div>
  );
}

/** Mappings with empty values dropped, as the API takes them. */
export function cleanMappings(m: v1FieldMappings): v1FieldMappings {
  const out: v1FieldMappings = {};
  for (const [key] of mappingFields) {
    if (m[key]) out[key] = m[key];
  }
  const props = Object.entries(m.properties ?? {});
  if (props.length) out.properties = Object.fromEntries(props);
  return out;
}
