/*
 * The bundle's ro-crate-metadata.json: a Workflow Run RO-Crate (profiles
 * https://w3id.org/ro/wfrun/process/0.5 and .../workflow/0.5), so tools that
 * read RO-Crates see the run without knowing SynthFlow: the DAG file as the
 * ComputationalWorkflow, one HowToStep per task, one CreateAction for the
 * run and one per task instance (instrument, object, result, times), and
 * every file with its size and sha256 (RO-Crate 1.2's context has the
 * term; 1.1's had none).
 */
#include "pack/bundle.h"
#include "pack/pack.h"
#include "util/common.h"

/* A bundle path as a relative URI reference: spaces and the like percent-encoded. */
static char *uri_path(const char *prefix, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, prefix);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/._-~", *p))
			sb_addch(&sb, *p);
		else
			sb_addf(&sb, "%%%02X", *p);
	}
	return sb_detach(&sb, NULL);
}

/* A value that may be absent, as JSON null (json_pack fails on NULL). */
static json_t *nz(json_t *j)
{
	return j ? j : json_null();
}

static json_t *ref(const char *id)
{
	return json_pack("{s:s}", "@id", id);
}

struct crate {
	json_t *graph, *root_parts, *mentions, *known;
};

/* The entity of a file the run used or made, added once; its @id in *id (borrowed from known). */
static const char *file_entity(struct crate *c, json_t *f, int in_bundle)
{
	const char *path = json_string_value(json_object_get(f, "path"));
	char *id;
	json_t *e;

	if (!path)
		return NULL;
	id = in_bundle ? uri_path("outputs/", path) : uri_path("#file:", path);
	if (!json_object_get(c->known, id)) {
		e = json_pack("{s:s, s:s, s:s}", "@id", id, "@type", "File", "name", path);
		if (json_is_string(json_object_get(f, "sha256"))) {
			json_object_set(e, "sha256", json_object_get(f, "sha256"));
			json_object_set_new(e, "contentSize",
					    json_sprintf("%lld", (long long)json_integer_value(
									 json_object_get(f, "size"))));
		}
		json_array_append_new(c->graph, e);
		if (in_bundle)
			json_array_append_new(c->root_parts, ref(id));
		json_object_set_new(c->known, id, json_true());
	}
	json_object_set_new(c->known, path, json_string(id));
	free(id);
	return json_string_value(json_object_get(c->known, path));
}

static json_t *file_refs(struct crate *c, json_t *list, json_t *bundled)
{
	json_t *arr = json_array(), *f;
	size_t i;

	json_array_foreach(list, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *id;
		if (!path || json_is_true(json_object_get(f, "missing")))
			continue;
		id = file_entity(c, f, json_object_get(bundled, path) != NULL);
		if (id)
			json_array_append_new(arr, ref(id));
	}
	return arr;
}

static void add_instances(struct crate *c, json_t *run, json_t *bundled, json_t *steps)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(run, "tasks"), i, t) {
		json_t *prov = json_object_get(t, "provenance"), *idx = json_object_get(t, "index");
		const char *task = json_string_value(json_object_get(t, "task_id"));
		json_t *objects, *act, *item = json_object_get(prov, "item");
		char *id, *step;

		if (!task || !json_is_object(prov))
			continue;
		id = json_is_integer(idx) ? xasprintf("#ti-%s.%lld", task, (long long)json_integer_value(idx))
					  : xasprintf("#ti-%s", task);
		step = xasprintf("#step-%s", task);
		if (!json_object_get(steps, step)) {
			json_t *s = json_pack("{s:s, s:s, s:s}", "@id", step, "@type", "HowToStep", "name", task);
			json_array_append_new(c->graph, s);
			json_object_set_new(steps, step, json_true());
		}
		objects = file_refs(c, json_object_get(prov, "inputs"), bundled);
		if (json_is_object(item)) {
			json_t *one = json_pack("[O]", item), *refs = file_refs(c, one, bundled);
			json_array_extend(objects, refs);
			json_decref(refs);
			json_decref(one);
		}
		act = json_pack("{s:s, s:s, s:s, s:o, s:O, s:O, s:o, s:o, s:O, s:o}", "@id", id, "@type",
				"CreateAction", "name", task, "instrument", ref(step), "startTime",
				nz(json_object_get(prov, "started_at")), "endTime",
				nz(json_object_get(prov, "ended_at")),
				"object", objects, "result",
				file_refs(c, json_object_get(prov, "outputs"), bundled), "description",
				nz(json_object_get(prov, "command")), "actionStatus",
				ref(json_integer_value(json_object_get(prov, "exit_code")) == 0
					    ? "http://schema.org/CompletedActionStatus"
					    : "http://schema.org/FailedActionStatus"));
		json_array_append_new(c->graph, act);
		json_array_append_new(c->mentions, ref(id));
		free(id);
		free(step);
	}
}

json_t *crate_build(json_t *meta, json_t *run)
{
	struct crate c = { .graph = json_array(), .root_parts = json_array(),
			   .mentions = json_array(), .known = json_object() };
	json_t *bundled = json_object(), *steps = json_object(), *o, *root, *wf, *results, *step_refs;
	const char *dag_id = json_string_value(json_object_get(meta, "dag_id"));
	const char *run_id = json_string_value(json_object_get(meta, "run_id"));
	char *run_ref = xasprintf("#run-%s", run_id), *name = xasprintf("Run %s of %s", run_id, dag_id);
	char *params;
	size_t i;

	json_array_foreach(json_object_get(meta, "outputs"), i, o)
		json_object_set_new(bundled, json_string_value(json_object_get(o, "path")), json_true());
	json_array_append_new(c.graph,
			      json_pack("{s:s, s:s, s:o, s:o}", "@id", "ro-crate-metadata.json", "@type",
					"CreativeWork", "conformsTo", ref("https://w3id.org/ro/crate/1.2"),
					"about", ref("./")));
	add_instances(&c, run, bundled, steps);
	results = json_array();
	json_array_foreach(json_object_get(meta, "outputs"), i, o) {
		const char *id = file_entity(&c, o, 1);
		if (id)
			json_array_append_new(results, ref(id));
	}
	step_refs = json_array();
	{
		const char *k;
		json_t *v;
		json_object_foreach(steps, k, v)
			json_array_append_new(step_refs, ref(k));
	}
	wf = json_pack("{s:s, s:[sss], s:s, s:o, s:o}", "@id", "dag/dag.yaml", "@type", "File",
		       "SoftwareSourceCode", "ComputationalWorkflow", "name", dag_id ? dag_id : "",
		       "programmingLanguage", ref("#synthflow-dag"), "step", step_refs);
	json_array_append_new(c.graph, wf);
	json_array_append_new(c.graph, json_pack("{s:s, s:s, s:s, s:s, s:s}", "@id", "#synthflow-dag",
						 "@type", "ComputerLanguage", "name", "SynthFlow DAG",
						 "version", json_string_value(json_object_get(meta, "synthflow")) ?: "",
						 "url", "https://github.com/synthbot-anon/synthflow"));
	params = json_dumps(nz(json_object_get(meta, "params")), JSON_SORT_KEYS | JSON_COMPACT);
	json_array_append_new(
		c.graph, json_pack("{s:s, s:s, s:s, s:o, s:O, s:O, s:o, s:s}", "@id", run_ref, "@type",
				   "CreateAction", "name", name, "instrument", ref("dag/dag.yaml"),
				   "startTime", nz(json_object_get(run, "started_at")), "endTime",
				   nz(json_object_get(run, "ended_at")), "result", results, "description",
				   params ? params : "{}"));
	free(params);
	json_array_insert_new(c.mentions, 0, ref(run_ref));
	json_array_append_new(c.root_parts, ref("dag/dag.yaml"));
	/* The licence is the workspace's own, which SynthFlow cannot know: said so, not guessed. */
	json_array_append_new(c.graph,
			      json_pack("{s:s, s:s, s:s, s:s}", "@id", "#license", "@type", "CreativeWork",
					"name", "the workspace's licence",
					"description", "Not stated by SynthFlow: see the licence of the "
					"workspace's source (workspace/source.tar) before sharing"));
	root = json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:[oo], s:o, s:o, s:o}", "@id", "./", "@type",
			 "Dataset", "name", name, "description",
			 "A SynthFlow run bundle: the DAG, the workspace source at its commit, the "
			 "provenance of every task instance and the run's outputs with their hashes",
			 "license", ref("#license"), "datePublished",
			 nz(json_object_get(meta, "packed_at")), "conformsTo",
			 ref("https://w3id.org/ro/wfrun/process/0.5"),
			 ref("https://w3id.org/ro/wfrun/workflow/0.5"), "mainEntity", ref("dag/dag.yaml"),
			 "hasPart", c.root_parts, "mentions", c.mentions);
	json_array_insert_new(c.graph, 1, root);
	json_decref(c.known);
	json_decref(bundled);
	json_decref(steps);
	free(run_ref);
	free(name);
	return json_pack("{s:s, s:o}", "@context", "https://w3id.org/ro/crate/1.2/context", "@graph",
			 c.graph);
}
