/* Names of FlowPic normalisations and direction modes, as used in configs and model files. */
#include <errno.h>
#include <string.h>

#include "flowpic.h"

static const char *const norm_names[] = {
	[FP_NORM_NONE] = "none",
	[FP_NORM_LOG1P] = "log1p",
	[FP_NORM_CLIP255] = "clip255",
};

static const char *const dir_names[] = {
	[FP_DIR_BOTH] = "both",
	[FP_DIR_UP] = "up",
	[FP_DIR_DOWN] = "down",
};

#define N_NORMS (sizeof(norm_names) / sizeof(norm_names[0]))
#define N_DIRS (sizeof(dir_names) / sizeof(dir_names[0]))

int
fp_norm_parse(const char *s, enum fp_norm *out)
{
	size_t i;

	if (s == NULL || out == NULL)
		return -EINVAL;
	for (i = 0; i < N_NORMS; i++) {
		if (strcmp(s, norm_names[i]) == 0) {
			*out = (enum fp_norm)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
fp_norm_name(enum fp_norm norm)
{
	if ((unsigned int)norm >= N_NORMS)
		return "unknown";
	return norm_names[norm];
}

int
fp_dir_parse(const char *s, enum fp_dir_mode *out)
{
	size_t i;

	if (s == NULL || out == NULL)
		return -EINVAL;
	for (i = 0; i < N_DIRS; i++) {
		if (strcmp(s, dir_names[i]) == 0) {
			*out = (enum fp_dir_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
fp_dir_name(enum fp_dir_mode dir)
{
	if ((unsigned int)dir >= N_DIRS)
		return "unknown";
	return dir_names[dir];
}
