/* Rust's std (1.78+) gets its random bytes from bcryptprimitives.dll's ProcessPrng, which
 * Wine 8 does not ship. tests/it/windows.rs puts this DLL beside the .exe in the Wine tests
 * only; on Windows the system's own DLL is there and this one is never built. RtlGenRandom
 * (advapi32's SystemFunction036) is in every Wine. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
