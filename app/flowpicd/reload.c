/* Model reload on SIGHUP: load and check the new model, swap it into workers between batches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "model.h"
#include "flowpicd.h"

/*
 * A new model replaces the old one only if it reads the same pictures (resolution, direction,
 * normalisation does not matter) and names the same classes in the same order: the counters
 * are per class, and they must stay monotonic across a reload.
 */
static int
fpd_reload_compatible(const struct fp_model *old, const struct fp_model *m, char *why,
		size_t len)
{
	uint32_t i;

	if (m->resolution != old->resolution || m->direction != old->direction) {
		snprintf(why, len, "it takes %ux%u '%s' pictures, the running model %ux%u '%s'",
			m->resolution, m->resolution, fp_dir_name(m->direction), old->resolution,
			old->resolution, fp_dir_name(old->direction));
		return -EINVAL;
	}
	if (m->n_classes != old->n_classes) {
		snprintf(why, len, "it has %u classes, the running model %u", m->n_classes,
			old->n_classes);
		return -EINVAL;
	}
	for (i = 0; i < m->n_classes; i++) {
		if (strcmp(m->class_names[i], old->class_names[i]) != 0) {
			snprintf(why, len, "class %u is '%s', the running model's is '%s'", i + 1,
				m->class_names[i], old->class_names[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* Free what workers have retired; once all have switched, free the old model. */
void
fpd_reload_poll(struct fpd_app *app)
{
	unsigned int w, pending = 0;

	if (app->old_model == NULL)
		return;
	for (w = 0; w < app->n_workers; w++) {
		struct fpd_worker *wk = &app->workers[w];
		struct fp_infer *old = atomic_exchange(&wk->retired, NULL);

		if (old != NULL)
			fp_infer_free(old);
		if (atomic_load(&wk->next_infer) != NULL || wk->swapped != app->reloads)
			pending++;
	}
	if (pending == 0) {
		fp_model_free(app->old_model);
		app->old_model = NULL;
	}
}

/*
 * Called on the stats lcore after SIGHUP. Reads model.path again; on any problem logs one line
 * and keeps the running model. Workers switch at their next batch boundary, so no window is
 * lost or classified by a half-installed model.
 */
int
fpd_reload_model(struct fpd_app *app)
{
	struct fp_infer *ctx[FPD_MAX_WORKERS];
	char err[512], why[256];
	struct fp_model *m;
	unsigned int w;

	if (app->old_model != NULL)
		return -EBUSY;	/* the stats loop calls again once the last reload is installed */
	m = fp_model_load(app->model_path, err, sizeof(err));
	if (m == NULL) {
		FPD_LOG(ERR, "model reload rejected, keeping %s: %s\n", app->model->name, err);
		app->reload_failures++;
		return -EINVAL;
	}
	if (fpd_reload_compatible(app->model, m, why, sizeof(why)) != 0) {
		FPD_LOG(ERR, "model reload rejected, keeping %s: %s: %s\n", app->model->name,
			app->model_path, why);
		fp_model_free(m);
		app->reload_failures++;
		return -EINVAL;
	}
	for (w = 0; w < app->n_workers; w++) {
		ctx[w] = fp_infer_create(m, app->set.batch, app->set.confidence, err, sizeof(err));
		if (ctx[w] == NULL) {
			FPD_LOG(ERR, "model reload rejected, keeping %s: %s\n", app->model->name,
				err);
			while (w-- > 0)
				fp_infer_free(ctx[w]);
			fp_model_free(m);
			app->reload_failures++;
			return -EINVAL;
		}
	}
	app->old_model = app->model;
	app->model = m;
	app->reloads++;
	for (w = 0; w < app->n_classes; w++)
		app->cat_names[w] = m->class_names[w];
	for (w = 0; w < app->n_workers; w++)
		atomic_store(&app->workers[w].next_infer, ctx[w]);
	FPD_LOG(NOTICE, "model reloaded from %s: %s (workers switch at their next batch)\n",
		app->model_path, m->name);
	return 0;
}
