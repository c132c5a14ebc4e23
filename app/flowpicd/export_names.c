/* Exporters' own copy of the category and model names, safe from model reloads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flowpicd.h"
#include "model.h"
#include "export.h"

static struct fpd_export_names fpd_names;

int
fpd_export_names_init(const struct fpd_app *app)
{
	uint32_t i;

	if (fpd_names.cat != NULL)
		return 0;
	fpd_names.cat = calloc(app->n_cats ? app->n_cats : 1, sizeof(char *));
	fpd_names.model = strdup(app->model != NULL ? app->model->name : "");
	if (fpd_names.cat == NULL || fpd_names.model == NULL)
		goto nomem;
	for (i = 0; i < app->n_cats; i++) {
		fpd_names.cat[i] = strdup(app->cat_names[i]);
		if (fpd_names.cat[i] == NULL)
			goto nomem;
	}
	fpd_names.n_cats = app->n_cats;
	fpd_names.n_classes = app->n_classes;
	return 0;
nomem:
	if (fpd_names.cat != NULL)
		for (i = 0; i < app->n_cats; i++)
			free(fpd_names.cat[i]);
	free(fpd_names.cat);
	free(fpd_names.model);
	memset(&fpd_names, 0, sizeof(fpd_names));
	return -ENOMEM;
}

const struct fpd_export_names *
fpd_export_names(void)
{
	return &fpd_names;
}
