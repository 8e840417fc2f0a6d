// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// A stand-in for bcryptprimitives.dll, which Wine 8 lacks and every Go 1.22+
// Windows binary imports for ProcessPrng. Used only to run the tests under
// Wine; it fills the buffer from advapi32's RtlGenRandom.
#include <windows.h>

typedef BOOLEAN(WINAPI *genrandom_fn)(PVOID, ULONG);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	static genrandom_fn genrandom;
	if (genrandom == NULL) {
		HMODULE advapi = LoadLibraryA("advapi32.dll");
		if (advapi == NULL)
			return FALSE;
		genrandom = (genrandom_fn)GetProcAddress(advapi, "SystemFunction036");
		if (genrandom == NULL)
			return FALSE;
	}
	while (len > 0) {
		ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!genrandom(data, chunk))
			return FALSE;
		data += chunk;
		len -= chunk;
	}
	return TRUE;
}
